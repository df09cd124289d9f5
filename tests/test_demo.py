"""The demo's pieces and a short end-to-end run."""

import numpy as np
import pytest

from keras_embedx import demo


def test_shipped_corpus_reads_with_labels():
    texts, labels, names = demo.read_labelled_corpus(
        demo.shipped_file(demo.DEFAULT_CORPUS), encoding=demo.DEFAULT_ENCODING
    )
    assert names == ["neg", "pos"]
    assert len(texts) == len(labels) == 200
    assert 0 < labels.mean() < 1
    assert any("\u2014" in t for t in texts)  # cp1252 0x97, an em dash


def test_corpus_errors_name_file_and_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("pos good film\nneg\n")
    with pytest.raises(ValueError, match=r"c\.txt, line 2: expected 'label"):
        demo.read_labelled_corpus(path)
    path.write_text("pos good\npos fine\n")
    with pytest.raises(ValueError, match="at least two labels"):
        demo.read_labelled_corpus(path)


def test_interval_is_the_corrected_resampled_t():
    # Nadeau & Bengio (2003) by hand: scores 0.5..0.8, a tenth tested per
    # fold; sample variance 1/60, t(0.975, 3 degrees of freedom) = 3.182446.
    mean, low, high = demo.interval([0.5, 0.6, 0.7, 0.8], test_share=0.1)
    half = 3.182446305 * np.sqrt((1 / 60) * (1 / 4 + 1 / 9))
    assert mean == pytest.approx(0.65)
    assert (low, high) == pytest.approx((0.65 - half, 0.65 + half), abs=1e-8)


def _check_run(result, lines, tmp_path, folds, repeats, epochs):
    """What every demo run must show, whatever its size."""
    text = "\n".join(lines)
    names = [
        "frozen GloVe",
        "thawed GloVe",
        "fastText (shipped)",
        "random Embedding",
        "GloVe mean + sklearn LR",
    ]
    table = result["table"].splitlines()
    assert table[0].split()[:2] == ["model", "accuracy"]
    assert [row[:24].strip() for row in table[1:6]] == names
    assert (
        f"{folds}-fold stratified cross-validation repeated {repeats} times" in table[6]
    )
    assert result["table"] in text
    for name in names:
        scores = result["scores"][name]
        assert len(scores) == folds * repeats
        assert np.all((scores >= 0) & (scores <= 1))
        row = result["rows"][name]
        assert row["mean"] == pytest.approx(scores.mean())
        assert row["low"] <= row["mean"] <= row["high"]
        assert f"{row['mean']:.1%}" in table[1 + names.index(name)]
        if name != "random Embedding":
            assert row["diff"] == pytest.approx(
                scores.mean() - result["scores"]["random Embedding"].mean()
            )
    # One verdict a model, plain about whether the interval excludes 0.
    assert text.count("vs a random table") + text.count("beats a random table") == 3
    for k in range(1, 7):
        assert f"[{k}/6] " in text
    # GloVe's lowercase vocabulary covers the lowercased corpus.
    assert result["coverage"]["GloVe"].types_with_fallback > 0.9

    # The final model: frozen first, then a linear ramp; the file's rows are
    # bit-identical while the factor is 0 and move once it is not.
    start, end = demo._schedule_epochs(epochs)
    factors, moved = result["unfreeze_factors"], result["file_rows_moved"]
    assert len(factors) == epochs
    assert factors[: start + 1] == [0.0] * (start + 1) and factors[end:] == [1.0] * (
        epochs - end
    )
    assert moved[: start + 1] == [0.0] * (start + 1)
    assert 0 < moved[start + 1] < moved[-1]
    assert (
        f"file rows unchanged while the factor was 0 ({start + 1} epochs): True" in text
    )
    assert result["reload_identical"]
    assert (tmp_path / "sentiment.keras").exists()
    assert (tmp_path / "pca.png").stat().st_size > 10_000

    # From the layer's own table (GloVe 6B 50d gives "queen", as gensim does).
    assert result["analogy"] == "queen"
    assert "king - man + woman -> 'queen'" in text
    assert "movie" in result["neighbours"]["film"]


@pytest.mark.slow
def test_demo_small_run(tmp_path, backend, host_backend):
    if backend == host_backend:
        pytest.skip("test_demo_default_run covers this backend")
    lines = []
    result = demo.run(
        folds=2, repeats=1, epochs=3, output_dir=str(tmp_path), log=lines.append
    )
    _check_run(result, lines, tmp_path, folds=2, repeats=1, epochs=3)
    assert result["unfreeze_factors"] == [0.0, 0.5, 1.0]


@pytest.mark.slow
@pytest.mark.host_only
def test_demo_default_run(tmp_path):
    # The real default: 10 folds x 3 repeats, 30 epochs, every model.
    lines = []
    result = demo.run(output_dir=str(tmp_path), log=lines.append)
    _check_run(result, lines, tmp_path, folds=10, repeats=3, epochs=demo.EPOCHS)
