"""Speech metrics: word error rate, word-boundary error and diarization error rate.

- :func:`wer` / :func:`corpus_wer`: Levenshtein word error rate after text normalisation
  (lower case, punctuation removed, numbers, letters and symbols spelled out, hesitations
  dropped: ``"F2."`` and ``"f two"`` are the same two words).
- :func:`boundary_errors`: absolute start/end time differences of the words that both
  sides agree on (after normalisation, matched by a minimum-edit alignment).
- :func:`der`: the standard diarization error rate (missed speech + false alarm + speaker
  confusion over the total reference speech), with a forgiveness collar around every
  reference boundary and overlapped speech scored (each speaker of an overlap counts),
  hypothesis labels mapped to reference labels one-to-one to maximise agreement.

Only this module's own imports: numpy, scipy and :mod:`affectkit.speech.textnorm`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..speech.textnorm import normalize_words, spoken_tokens

__all__ = [
    "DERResult",
    "TimedWord",
    "WERResult",
    "boundary_errors",
    "boundary_summary",
    "corpus_wer",
    "der",
    "edit_alignment",
    "wer",
]


# ----------------------------------------------------------------------------- WER
@dataclass(frozen=True)
class WERResult:
    """Word error counts; ``wer = (substitutions + deletions + insertions) / n_ref``."""

    substitutions: int
    deletions: int
    insertions: int
    n_ref: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.n_ref == 0:
            return 0.0 if self.insertions == 0 else float("inf")
        return self.errors / self.n_ref

    def __add__(self, other: WERResult) -> WERResult:
        return WERResult(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.n_ref + other.n_ref,
        )


def edit_alignment(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Minimum-edit alignment of two token lists.

    Returns pairs ``(i, j)`` in order: both set for a match or substitution, ``(i, None)``
    for a deletion, ``(None, j)`` for an insertion. Among equal-cost paths, matches win.
    """
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        ri = ref[i - 1]
        row, prev = d[i], d[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (ri != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
    out: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            out.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            out.append((i - 1, None))
            i -= 1
        else:
            out.append((None, j - 1))
            j -= 1
    return out[::-1]


def _counts(ref: list[str], hyp: list[str]) -> WERResult:
    s = dl = ins = 0
    for i, j in edit_alignment(ref, hyp):
        if i is None:
            ins += 1
        elif j is None:
            dl += 1
        elif ref[i] != hyp[j]:
            s += 1
    return WERResult(s, dl, ins, len(ref))


def wer(reference: str, hypothesis: str, *, normalize: bool = True) -> WERResult:
    """Word error counts of one hypothesis against one reference text.

    With ``normalize`` (default) both texts go through
    :func:`affectkit.speech.textnorm.normalize_words` first; otherwise they are split on
    whitespace as they are.
    """
    if normalize:
        return _counts(normalize_words(reference), normalize_words(hypothesis))
    return _counts(reference.split(), hypothesis.split())


def corpus_wer(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> WERResult:
    """Pooled word error counts over ``(reference, hypothesis)`` pairs (errors summed
    over the corpus, then divided by all reference words, as the field reports it)."""
    total = WERResult(0, 0, 0, 0)
    for ref, hyp in pairs:
        total = total + wer(ref, hyp, normalize=normalize)
    return total


# ------------------------------------------------------------------ word boundaries
@dataclass(frozen=True)
class TimedWord:
    """A written word with its span in seconds."""

    text: str
    start: float
    end: float


def _timed_tokens(words: Sequence[TimedWord]) -> list[tuple[str, float | None, float | None]]:
    """Spoken tokens; a token carries its word's start (first token) and end (last token).
    Inner boundaries of a multi-token word (``"F2"``) are unknown and not scored."""
    out: list[tuple[str, float | None, float | None]] = []
    for w in words:
        toks = spoken_tokens(w.text)
        for k, t in enumerate(toks):
            out.append((t, w.start if k == 0 else None, w.end if k == len(toks) - 1 else None))
    return out


def boundary_errors(reference: Sequence[TimedWord], hypothesis: Sequence[TimedWord]) -> tuple[np.ndarray, int, int]:
    """Absolute boundary errors (seconds) of the words both sides agree on.

    The two word lists are normalised into spoken tokens and aligned by minimum edit
    distance; for each matched token pair the start and the end are compared where both
    sides know them.

    Returns:
        ``(errors, n_matched, n_ref)``: ``errors`` is ``(k,) float64`` (one entry per compared
        boundary, starts and ends together), ``n_matched`` the matched tokens, ``n_ref`` the
        reference tokens.
    """
    rt, ht = _timed_tokens(reference), _timed_tokens(hypothesis)
    errs: list[float] = []
    matched = 0
    for i, j in edit_alignment([t[0] for t in rt], [t[0] for t in ht]):
        if i is None or j is None or rt[i][0] != ht[j][0]:
            continue
        matched += 1
        for k in (1, 2):
            a, b = rt[i][k], ht[j][k]
            if a is not None and b is not None:
                errs.append(abs(float(a) - float(b)))
    return np.asarray(errs, dtype=np.float64), matched, len(rt)


def boundary_summary(errors: np.ndarray, tolerance: float = 0.05) -> dict[str, float]:
    """Mean and median (ms) and the share of boundaries within ``tolerance`` seconds."""
    e = np.asarray(errors, dtype=np.float64)
    if e.size == 0:
        return {"boundary_mean_ms": float("nan"), "boundary_median_ms": float("nan"), "within_50ms": float("nan"), "n": 0}
    return {
        "boundary_mean_ms": float(e.mean() * 1000.0),
        "boundary_median_ms": float(np.median(e) * 1000.0),
        "within_50ms": float((e <= tolerance + 1e-9).mean()),
        "n": int(e.size),
    }


# ----------------------------------------------------------------------------- DER
@dataclass(frozen=True)
class DERResult:
    """Diarization error components in seconds of scored reference speech."""

    missed: float
    false_alarm: float
    confusion: float
    total: float
    mapping: dict[str, str]

    @property
    def der(self) -> float:
        if self.total <= 0:
            return 0.0 if self.missed + self.false_alarm + self.confusion == 0 else float("inf")
        return (self.missed + self.false_alarm + self.confusion) / self.total


Segment = tuple[float, float, str]


def _scored_mask(bounds: np.ndarray, reference: Sequence[Segment], collar: float) -> np.ndarray:
    """Which elementary intervals ``[bounds[k], bounds[k+1]]`` lie outside every collar."""
    mid = (bounds[:-1] + bounds[1:]) / 2
    keep = np.ones(mid.shape, dtype=bool)
    if collar > 0:
        for s, e, _ in reference:
            for b in (s, e):
                keep &= ~((mid > b - collar) & (mid < b + collar))
    return keep


def der(
    reference: Sequence[Segment],
    hypothesis: Sequence[Segment],
    *,
    collar: float = 0.25,
    skip_overlap: bool = False,
    uem: tuple[float, float] | None = None,
) -> DERResult:
    """Diarization error rate of ``hypothesis`` against ``reference``.

    Args:
        reference, hypothesis: speaker turns ``(start, end, label)`` in seconds; turns of
            different speakers may overlap.
        collar: seconds forgiven on either side of every reference turn boundary (0.25 is
            the usual NIST setting: 0.5 s around each boundary in all).
        skip_overlap: leave regions where the reference has two or more speakers unscored
            (default False: overlap is scored, every speaker counts).
        uem: only score ``[start, end]`` (default: everything).

    Labels are mapped one-to-one (Hungarian assignment on overlap duration), so the names
    on either side do not matter.
    """
    from scipy.optimize import linear_sum_assignment

    ref = [(float(s), float(e), str(lab)) for s, e, lab in reference if e > s]
    hyp = [(float(s), float(e), str(lab)) for s, e, lab in hypothesis if e > s]
    pts = {0.0}
    for s, e, _ in ref + hyp:
        pts.update((s, e))
    if uem is not None:
        pts.update(uem)
    if collar > 0:
        for s, e, _ in ref:
            pts.update((max(0.0, s - collar), s + collar, max(0.0, e - collar), e + collar))
    bounds = np.array(sorted(pts), dtype=np.float64)
    if bounds.size < 2:
        return DERResult(0.0, 0.0, 0.0, 0.0, {})
    mid = (bounds[:-1] + bounds[1:]) / 2
    dur = np.diff(bounds)
    keep = _scored_mask(bounds, ref, collar)
    if uem is not None:
        keep &= (mid >= uem[0]) & (mid <= uem[1])
    rlabels = sorted({lab for *_, lab in ref})
    hlabels = sorted({lab for *_, lab in hyp})
    R = np.zeros((len(rlabels), mid.size), dtype=bool)
    H = np.zeros((len(hlabels), mid.size), dtype=bool)
    for s, e, lab in ref:
        R[rlabels.index(lab)] |= (mid > s) & (mid < e)
    for s, e, lab in hyp:
        H[hlabels.index(lab)] |= (mid > s) & (mid < e)
    if skip_overlap:
        keep &= R.sum(0) <= 1
    w = dur * keep
    mapping: dict[str, str] = {}
    mapped = np.zeros_like(R)
    if rlabels and hlabels:
        overlap = (R[:, None, :] & H[None, :, :]).astype(np.float64) @ w  # (n_ref, n_hyp)
        ri, hi = linear_sum_assignment(-overlap)
        for r, h in zip(ri, hi):
            if overlap[r, h] > 0:
                mapping[hlabels[h]] = rlabels[r]
                mapped[r] |= H[h]
    n_ref = R.sum(0).astype(np.float64)
    n_hyp = H.sum(0).astype(np.float64)
    n_correct = (R & mapped).sum(0).astype(np.float64)
    missed = float((np.maximum(0.0, n_ref - n_hyp) * w).sum())
    fa = float((np.maximum(0.0, n_hyp - n_ref) * w).sum())
    conf = float(((np.minimum(n_ref, n_hyp) - n_correct) * w).sum())
    total = float((n_ref * w).sum())
    return DERResult(missed, fa, conf, total, mapping)
