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
    result = demo.run(epochs=3, output_dir=str(tmp_path), log=lines.append)
    assert result["reload_identical"]
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["baseline_accuracy"] <= 1
    assert 0.5 < result["coverage"].types <= 1
    text = "\n".join(lines)
    assert "held-out accuracy" in text and "reloaded model predicts identically" in text
    assert "random keras.layers.Embedding" in text  # the baseline comparison
    assert (tmp_path / "sentiment.keras").exists()
    assert np.isfinite(result["seconds"])

    # Issue 3: frozen first, then a linear ramp; one printed line per epoch
    # with the factor History recorded. Over 3 epochs: 0, then 0.5, then 1.
    assert result["unfreeze_factors"] == [0.0, 0.5, 1.0]
    for epoch, factor in enumerate(["0.00", "0.50", "1.00"], start=1):
        assert f"epoch {epoch:2d}/3: unfreeze factor {factor}," in text
    moved = result["file_rows_moved"]
    assert moved[0] == 0.0  # factor 0: the file's rows are bit-identical
    assert 0 < moved[1] < moved[2]
    assert "file rows unchanged while the factor was 0 (1 epochs): True" in text

    # Issue 4: every training word with no vector (exact or lowercase) in
    # the file got a subword vector, and the count is printed.
    missing = result["coverage"].missing
    assert result["subword_filled"] == len(missing) > 0
    assert f"subword vectors for the {len(missing)} training words" in text
    # The n-gram fit finds the file's spelling of a word the vocabulary
    # stripped of punctuation (doesnt -> doesn't) or its stem (thats -> that).
    start = next(i for i, line in enumerate(lines) if "subword vectors" in line)
    examples = lines[start].split("\n")[1:]
    assert len(examples) == 3
    close = 0
    for example in examples:
        word, _, near = example.strip().partition(" -> ")
        assert word in missing
        plain = [n.replace("'", "").replace("-", "") for n in near.split(", ")]
        close += any(word == n or word.startswith(n) for n in plain)
    assert close >= 2, examples
