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


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    lines = []
    result = demo.run(epochs=2, output_dir=str(tmp_path), log=lines.append)
    assert result["reload_identical"]
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["baseline_accuracy"] <= 1
    assert 0.5 < result["coverage"].types <= 1
    text = "\n".join(lines)
    assert "held-out accuracy" in text and "reloaded model predicts identically" in text
    assert (tmp_path / "sentiment.keras").exists()
    assert np.isfinite(result["seconds"])
