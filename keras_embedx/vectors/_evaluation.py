"""The arithmetic of `keras_embedx.evaluation` on checked words and vectors.

Analogy accuracy and word-pair correlations over a `(words, vectors)` pair,
with gensim's skipping rules, case folding and tie-breaking. `WordVectors`
calls these for its gensim-named methods; `keras_embedx.evaluation` calls
them after turning any source (a layer, gensim's `KeyedVectors`) into words
and vectors.
"""

import dataclasses
import os

import numpy as np

# Questions per matrix product, candidates per matrix product, and the run of
# candidates each question keeps only the best score of.
_QUESTIONS = 256
_CANDIDATES = 32768
_CHUNK = 64
# Runs ranked in full beyond the `width` a question needs.
_EXTRA_CHUNKS = 4
# Questions whose best candidates score closer than this are re-scored one at
# a time with exactly gensim's arithmetic, so near-ties break as gensim breaks
# them.
_TIE_TOLERANCE = 1e-5


def checked(words, vectors):
    """`(words, vectors)` as lists and contiguous float32, one vector per word."""
    words, vectors = list(words), np.asarray(vectors)
    if vectors.ndim != 2 or len(words) != len(vectors) or not len(words):
        raise ValueError(
            "Expected one vector per word. Received: "
            f"{len(words)} words and vectors of shape {vectors.shape}"
        )
    return words, np.ascontiguousarray(vectors, dtype=np.float32)


def _vocab_keys(words, restrict_vocab, case_insensitive):
    """The keys of the first `restrict_vocab` words (upper-cased or not)."""
    words = words[:restrict_vocab]
    return [w.upper() for w in words] if case_insensitive else list(words)


def _vocab_index(keys):
    """Key -> row; the first row with a key wins (later ones are written first)."""
    return dict(zip(reversed(keys), range(len(keys) - 1, -1, -1)))


def _read_lines(path):
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise OSError(f"Cannot read evaluation file {path!r}: {e.strerror}") from e
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path} line {number}: not UTF-8 ({e.reason} at byte {e.start})."
            ) from None
    return path, out


# --------------------------------------------------------------- analogies
@dataclasses.dataclass
class AnalogySection:
    """Results of one `: section` of an analogy file.

    `correct`/`incorrect` hold the `(a, b, c, expected)` questions (upper-cased
    when case-insensitive), as gensim lists them.
    """

    name: str
    correct: list = dataclasses.field(default_factory=list)
    incorrect: list = dataclasses.field(default_factory=list)

    @property
    def total(self):
        return len(self.correct) + len(self.incorrect)

    @property
    def accuracy(self):
        """Share answered correctly; 0.0 when no question was evaluated."""
        return len(self.correct) / self.total if self.total else 0.0


@dataclasses.dataclass
class AnalogyResult:
    """What `analogies` returns.

    Attributes:
        accuracy: overall share of evaluated questions answered correctly.
        sections: list of `AnalogySection`, in file order.
        total: an `AnalogySection` named "Total accuracy" with every question.
        questions: number of well-formed questions in the file.
        oov: questions skipped (or counted wrong with `dummy4unknown`)
            because a word is not among the first `restrict_vocab` words.
        oov_ratio: `oov` as a percentage of `questions`, as gensim logs it.
    """

    accuracy: float
    sections: list
    total: AnalogySection
    questions: int
    oov: int

    @property
    def oov_ratio(self):
        return 100.0 * self.oov / self.questions if self.questions else 0.0

    def section_accuracy(self):
        """`{section name: accuracy}`."""
        return {s.name: s.accuracy for s in self.sections}

    def to_gensim(self):
        """The `(score, sections)` pair gensim's `evaluate_word_analogies` returns."""
        sections = [
            {"section": s.name, "correct": s.correct, "incorrect": s.incorrect}
            for s in [*self.sections, self.total]
        ]
        return self.accuracy, sections


def _parse_analogies(path, case_insensitive):
    """Sections and `(a, b, c, expected)` rows, and which are in `index`."""
    path, lines = _read_lines(path)
    sections, questions = [], []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if line.startswith(": "):
            sections.append(AnalogySection(line.lstrip(": ").strip()))
            continue
        if not sections:
            raise ValueError(
                f"{path} line {number}: expected a ': section' header before the "
                f"first question. Received: {line!r}"
            )
        words = line.split()
        if len(words) != 4:
            continue  # gensim skips malformed lines too
        if case_insensitive:
            words = [w.upper() for w in words]
        questions.append((len(sections) - 1, tuple(words)))
    return path, sections, questions


def _gensim_query(unit, positive, negative, nrm2):
    """The query vector of gensim's `most_similar`, with its exact arithmetic.

    Mean of weighted unit vectors (float32 accumulator, float64 weights),
    divided by the total weight, normalised with BLAS nrm2 and cast to float32.
    """
    weights = np.concatenate((np.ones(len(positive)), -1.0 * np.ones(len(negative))))
    mean = np.zeros(unit.shape[1], unit.dtype)
    total = 0
    for weight, row in zip(weights, [*positive, *negative]):
        mean += weight * unit[row]
        total += abs(weight)
    mean = mean / total
    norm = nrm2(mean)
    if norm > 0:
        mean = (mean * (1.0 / norm)).astype(mean.dtype)
    return mean.astype(np.float32)


def _nrm2():
    try:
        from scipy.linalg.blas import get_blas_funcs

        return get_blas_funcs("nrm2", dtype=np.float64)
    except ImportError:  # pragma: no cover - scipy is usually there
        return np.linalg.norm


def gensim_argsort_desc(scores, topn):
    """Indices of the `topn` largest scores, ordered as gensim orders them."""
    x = -scores
    if topn >= x.size:
        return np.argsort(x)[:topn]
    part = np.argpartition(x, topn)[:topn]
    return part.take(np.argsort(x.take(part)))


def analogies(words, vectors, path, restrict_vocab, case_insensitive, dummy4unknown):
    """`keras_embedx.evaluation.analogies` on checked words and vectors."""
    restrict_vocab = int(restrict_vocab)
    keys = _vocab_keys(words, restrict_vocab, case_insensitive)
    index = _vocab_index(keys)
    path, sections, questions = _parse_analogies(path, case_insensitive)

    known = [all(w in index for w in quad) for _, quad in questions]
    rows = [[index[w] for w in quad] for (_, quad), ok in zip(questions, known) if ok]
    verdicts = iter(
        _answer(
            vectors,
            np.asarray(rows, np.int64).reshape(-1, 4),
            np.fromiter(map(index.__getitem__, keys), np.int64, len(keys)),
        )
    )
    for (section, quad), ok in zip(questions, known):
        if ok:
            right = next(verdicts)
        elif dummy4unknown:
            right = False
        else:
            continue
        (sections[section].correct if right else sections[section].incorrect).append(
            quad
        )
    total = AnalogySection(
        "Total accuracy",
        [q for s in sections for q in s.correct],
        [q for s in sections for q in s.incorrect],
    )
    oov = len(known) - sum(known)
    return AnalogyResult(total.accuracy, sections, total, len(questions), oov)


def _answer(vectors, rows, canon):
    """Bool per question: is 3CosAdd's answer the expected word?

    `canon` holds, for each candidate row, the first row with its key:
    "Paris" and "PARIS" are one word when case is ignored.

    Scores come from one matrix product per block of questions and block of
    candidates, reduced at once to the best score of each run of `_CHUNK`
    candidates; only the best runs are ranked. A question whose ranking could
    depend on rounding (near-equal scores at the top, or a run left out
    scoring close to the last one kept) is ranked again one at a time with
    gensim's own arithmetic.
    """
    if not len(rows):
        return []
    limit = len(canon)
    cand = vectors[:limit]
    cand_norms = np.linalg.norm(cand, axis=1)
    k = min(5 + 3, limit)  # gensim ranks topn + len(question words)
    width = min(k + 1, limit)  # one more, to see ties at the cut
    nrm2 = _nrm2()
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = cand / cand_norms[:, None]
    if not np.isfinite(unit).all():
        # Zero or non-finite vectors: only gensim's arithmetic ranks them.
        return [
            _pick(_exact_ranking(cand, cand_norms, unit, q, k, nrm2), q, canon)
            for q in rows
        ]
    ranked, sure = _ranked_candidates(unit, rows, width)
    verdicts = []
    for q, question in enumerate(rows):
        if sure[q]:
            order = ranked[q, :k]
        else:
            order = _exact_ranking(cand, cand_norms, unit, question, k, nrm2)
        verdicts.append(_pick(order, question, canon))
    return verdicts


def _ranked_candidates(unit, rows, width):
    """`(top, sure)`: per question the `width` best candidate rows, best
    first, and whether that order is beyond rounding doubt."""
    limit = len(unit)
    n_chunks = -(-limit // _CHUNK)
    # Pad to whole runs with copies of the last row: a run's best is unchanged.
    padded = np.concatenate(
        [unit, np.repeat(unit[-1:], n_chunks * _CHUNK - limit, axis=0)]
    )
    # A block of L candidates holds L / _CHUNK runs; run j of the block is
    # rows j, j + L / _CHUNK, ...: the reduction over a run is then an
    # element-wise maximum of contiguous slices.
    base = np.empty(n_chunks, np.int64)
    stride = np.empty(n_chunks, np.int64)
    for lo in range(0, len(padded), _CANDIDATES):
        span = min(_CANDIDATES, len(padded) - lo) // _CHUNK
        base[lo // _CHUNK : lo // _CHUNK + span] = lo + np.arange(span)
        stride[lo // _CHUNK : lo // _CHUNK + span] = span
    keep = min(n_chunks, width + _EXTRA_CHUNKS)
    top = np.empty((len(rows), width), np.int64)
    sure = np.empty(len(rows), np.bool_)
    members = np.arange(_CHUNK)
    for start in range(0, len(rows), _QUESTIONS):
        a, b, c, _ = rows[start : start + _QUESTIONS].T
        nq = len(a)
        query = (unit[b] + unit[c]) - unit[a]
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        best = np.empty((nq, n_chunks), np.float32)
        for lo in range(0, len(padded), _CANDIDATES):
            scores = query @ padded[lo : lo + _CANDIDATES].T
            span = scores.shape[1] // _CHUNK
            np.max(
                scores.reshape(nq, _CHUNK, span),
                axis=1,
                out=best[:, lo // _CHUNK : lo // _CHUNK + span],
            )
        if keep < n_chunks:
            # Position `keep` holds the best run left out; the rest are lower.
            chosen = np.argpartition(-best, keep, axis=1)
            outside = np.take_along_axis(best, chosen[:, keep : keep + 1], 1)[:, 0]
            chosen = chosen[:, :keep]
        else:
            chosen = np.broadcast_to(np.arange(n_chunks), (nq, n_chunks))
            outside = np.full(nq, -np.inf, np.float32)
        ids = base[chosen][:, :, None] + stride[chosen][:, :, None] * members
        ids = ids.reshape(nq, -1)
        scores = np.matmul(padded[ids], query[:, :, None])[:, :, 0]
        ids = np.minimum(ids, limit - 1)  # padding rows stand for the last row
        n = min(width, ids.shape[1])
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        part_scores = np.take_along_axis(scores, part, 1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        part_scores = np.take_along_axis(part_scores, order, 1)
        found = np.take_along_axis(ids, np.take_along_axis(part, order, 1), 1)
        top[start : start + nq] = found
        # No near-tie among the best, nothing left out close to them, and no
        # padding row among them.
        gaps = np.diff(-part_scores, axis=1)
        sure[start : start + nq] = (
            (gaps >= _TIE_TOLERANCE).all(axis=1)
            & (part_scores[:, -1] - outside >= _TIE_TOLERANCE)
            & (np.sort(found, axis=1)[:, 1:] != np.sort(found, axis=1)[:, :-1]).all(
                axis=1
            )
        )
    return top, sure


def _exact_ranking(cand, cand_norms, unit, question, k, nrm2):
    """The `k` best candidates for one question, ranked as gensim ranks them."""
    a, b, c = (int(x) for x in question[:3])
    exact = _gensim_query(unit, [b, c], [a], nrm2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return gensim_argsort_desc(np.dot(cand, exact) / cand_norms, k)


def _pick(ranked, question, canon):
    """gensim's choice among the ranked candidates: skip question words."""
    a, b, c, expected = (int(x) for x in question)
    ignore = {a, b, c}
    shown = [int(i) for i in ranked if int(i) not in ignore][:5]
    predicted = None
    for i in shown:
        predicted = canon[i]
        if predicted not in ignore:
            break
    return predicted == expected


# -------------------------------------------------------------- word pairs
@dataclasses.dataclass
class WordPairsResult:
    """What `word_pairs` returns.

    Attributes:
        pearson: Pearson correlation between the file's scores and cosine
            similarities.
        spearman: Spearman rank correlation (average ranks for ties).
        oov_ratio: percentage of pairs with a word outside the vocabulary.
        pairs: number of pairs used.
        oov: number of pairs with an unknown word.
        pearson_pvalue, spearman_pvalue: two-sided p-values.
    """

    pearson: float
    spearman: float
    oov_ratio: float
    pairs: int
    oov: int
    pearson_pvalue: float = None
    spearman_pvalue: float = None


def _correlations(gold, model):
    """`(pearson, spearman, pearson p-value, spearman p-value)` from
    `scipy.stats`, as gensim computes them."""
    try:
        from scipy import stats
    except ImportError:
        raise ImportError(
            "Word-pair correlations come from scipy.stats, which is not "
            "installed. Install it with `pip install scipy` (gensim, jax and "
            "scikit-learn bring it too)."
        ) from None
    pearson = stats.pearsonr(gold, model)
    spearman = stats.spearmanr(gold, model)
    return (
        float(pearson.statistic),
        float(spearman.statistic),
        float(pearson.pvalue),
        float(spearman.pvalue),
    )


def word_pairs(
    words, vectors, path, delimiter, restrict_vocab, case_insensitive, dummy4unknown
):
    """`keras_embedx.evaluation.word_pairs` on checked words and vectors."""
    index = _vocab_index(_vocab_keys(words, int(restrict_vocab), case_insensitive))
    path, lines = _read_lines(path)
    gold, left, right, unknown = [], [], [], []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        fields = line.split(delimiter)
        if len(fields) != 3:
            continue
        a, b, score = (f.upper() for f in fields) if case_insensitive else fields
        try:
            score = float(score)
        except ValueError:
            continue
        if a in index and b in index:
            gold.append(score)
            left.append(index[a])
            right.append(index[b])
            unknown.append(False)
        elif dummy4unknown:
            gold.append(score)
            left.append(-1)
            right.append(-1)
            unknown.append(True)
        else:
            unknown.append(True)
    oov = int(sum(unknown))
    if not gold:
        raise ValueError(
            f"No word pair in {path} could be scored: every pair has a word "
            f"outside the first {restrict_vocab} words, or the lines are not "
            f"`word{delimiter!r}word{delimiter!r}score`."
        )
    model = np.zeros(len(gold), np.float32)
    scored = np.asarray(left) >= 0
    left, right = np.asarray(left)[scored], np.asarray(right)[scored]
    model[scored] = _cosine(vectors, left, right)
    gold = np.asarray(gold, np.float64)
    if not scored.all():
        # gensim's list of float32 similarities and 0.0 dummies is float64.
        model = model.astype(np.float64)
    used = len(gold)
    ratio = 100.0 * oov / (used if dummy4unknown else used + oov)
    pearson, spearman, p_pearson, p_spearman = _correlations(gold, model)
    return WordPairsResult(
        pearson=pearson,
        spearman=spearman,
        oov_ratio=ratio,
        pairs=used,
        oov=oov,
        pearson_pvalue=p_pearson,
        spearman_pvalue=p_spearman,
    )


def _cosine(vectors, left, right):
    """float32 cosine of row pairs, normalised as gensim's `similarity`."""
    used, where = np.unique(np.concatenate([left, right]), return_inverse=True)
    left, right = where[: len(left)], where[len(left) :]
    v64 = vectors[used].astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", v64, v64))
    norms[norms == 0] = 1.0
    unit = (v64 * (1.0 / norms)[:, None]).astype(np.float32)
    return np.einsum("ij,ij->i", unit[left], unit[right])
