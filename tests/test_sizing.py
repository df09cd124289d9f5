"""suggest_dim: the published rules of thumb."""

import pytest

from keras_embedx import suggest_dim

pytestmark = pytest.mark.host_only


@pytest.mark.parametrize("n", [10, 1_000, 20_000, 400_000, 3_000_000])
def test_fourth_root_rule(n):
    dim = suggest_dim(n)
    assert dim % 8 == 0 and dim >= 8
    # Never less than the fourth root, never more than a multiple of 8 above it.
    assert n**0.25 <= dim < n**0.25 + 8 or dim == 8


def test_fastai_rule_is_capped():
    assert suggest_dim(1_000, rule="fastai") == round(1.6 * 1_000**0.56)
    assert suggest_dim(10**9, rule="fastai") == 600


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_bad_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match="Received: vocab_size="):
        suggest_dim(bad)


def test_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        suggest_dim(100, rule="sqrt")
