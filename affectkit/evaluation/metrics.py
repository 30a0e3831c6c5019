"""MEGC spotting metrics (precision, recall, F1 for ME, MaE and overall) and STRS.

The protocol (``../shared/docs/facts.md``, the MEGC challenges' own evaluation code):

* Intervals are inclusive frame ranges ``[onset, offset]``; ``IoU = |A n B| / |A u B|``
  counted in frames with both ends included (``+1``). Touching intervals (``[0, 4]`` and
  ``[5, 9]``) do not overlap; ``[0, 4]`` and ``[4, 9]`` share one frame.
* A prediction is a true positive when ``IoU >= threshold`` (0.5) with a ground truth not
  yet matched; each ground truth is matched at most once and each prediction matches at
  most one ground truth. ``FP = predictions - TP``, ``FN = ground truths - TP``.
* **Matching order.** Predictions are visited in order of ``(onset, offset)`` (ties: their
  input order), so the result does not depend on how a spotter happens to order its
  output. Each prediction takes, among the still unmatched ground truths with
  ``IoU >= threshold``, the one with the highest IoU (ties: the earlier ground truth by
  ``(onset, offset)``). Hence a prediction overlapping two truths at ``IoU >= 0.5``
  (possible only at exactly 0.5 for disjoint truths) counts once, the other truth stays a
  false negative; two predictions on one truth give one TP and one FP. (The public STRS
  script lets one prediction take every truth it overlaps, which can make ``TP`` exceed
  the number of predictions; we do not copy that.)
* **Pooling.** TP/FP/FN are summed over all videos first; precision, recall and F1 come
  from the sums (never a mean of per-video scores). An empty denominator gives 0, so an
  empty run scores ``F1 = 0`` without a division error.
* **ME / MaE split** (as in the MEGC 2020 baseline's evaluation, where the micro and
  macro runs are scored separately): every interval gets a kind, ``"me"`` or ``"mae"``:
  its own ``kind`` when set, otherwise by its length (``(offset - onset) / fps <= 0.5`` s
  is ME; ``fps`` is then required). A *prediction is attributed by its own kind* and is
  matched only against ground truths of the same kind: ``me`` scores ME predictions
  against ME truths, ``mae`` MaE predictions against MaE truths, and ``overall`` is the
  sum of the two (so a prediction labelled ME that lands on a macro-expression is a false
  positive of the ME run and the macro-expression a false negative of the MaE run).
  ``any_kind`` is also reported: all predictions against all truths, kinds ignored; it
  says how much is lost to wrong ME/MaE labels.
* **STRS** (spot-then-recognise score) = spotting F1 x analysis F1. Spotting uses kind-
  agnostic matching (as the public STRS script does). The analysis is scored only on the
  matched pairs whose truth emotion is one of the classes: per class ``c`` a pair is a TP
  when prediction and truth are both ``c``, an FP when only the prediction is ``c``, an FN
  when only the truth is ``c``; precision and recall per class (0 on an empty
  denominator) are averaged over the classes (default: every emotion among the ground
  truths), and analysis F1 is the F1 of those two averages.

Sanity figure (facts.md): on the public STRS sample files, TP 159, FP 85, FN 85 give
spotting F1 0.6516 (the sample files are not available here; the pooled arithmetic is
tested instead, together with the STRS README's own example, STRS 0.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from ..errors import AffectkitError

Kind = Literal["me", "mae"]
KINDS: tuple[str, str] = ("me", "mae")
ME_MAX_SECONDS = 0.5
"""The ME/MaE boundary used by the challenges: an interval lasting at most 0.5 s is a micro-expression."""

_KIND_ALIASES = {
    "me": "me",
    "micro": "me",
    "micro-expression": "me",
    "micro_expression": "me",
    "microexpression": "me",
    "mae": "mae",
    "macro": "mae",
    "macro-expression": "mae",
    "macro_expression": "mae",
    "macroexpression": "mae",
}


class MetricsError(AffectkitError):
    """Intervals or truth tables that cannot be scored (bad ranges, unknown kinds, ...)."""


def normalize_kind(kind: Any) -> str | None:
    """``"me"`` / ``"mae"`` from the spellings in use (``micro``, ``macro_expression``, ``ME``...)."""
    if kind is None:
        return None
    k = str(kind).strip().lower()
    if not k:
        return None
    if k not in _KIND_ALIASES:
        raise MetricsError(f"unknown expression kind {kind!r}: use 'me' (micro) or 'mae' (macro)")
    return _KIND_ALIASES[k]


def classify_kind(onset: int, offset: int, fps: float, *, boundary_s: float = ME_MAX_SECONDS) -> str:
    """``"me"`` when ``(offset - onset) / fps <= boundary_s`` (0.5 s), else ``"mae"``."""
    if fps is None or fps <= 0:
        raise MetricsError("an interval without a kind needs fps to be classed ME or MaE by its length")
    return "me" if (offset - onset) / float(fps) <= boundary_s + 1e-9 else "mae"


@dataclass(frozen=True)
class Interval:
    """One expression interval in frames (inclusive at both ends).

    Attributes:
        onset, offset: first and last frame of the expression, ``onset <= offset``.
        apex: the apex frame (optional; not used by the spotting score).
        kind: ``"me"`` or ``"mae"`` (aliases accepted), or None to class it by length.
        emotion: emotion label for STRS (optional).
        score: a spotter's confidence (optional, informational).
    """

    onset: int
    offset: int
    apex: int | None = None
    kind: str | None = None
    emotion: str | None = None
    score: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("onset", "offset"):
            v = getattr(self, name)
            if isinstance(v, bool) or not float(v).is_integer():
                raise MetricsError(f"interval {name} must be a whole frame number, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.onset < 0:
            raise MetricsError(f"interval onset must be >= 0, got {self.onset}")
        if self.offset < self.onset:
            raise MetricsError(f"interval offset {self.offset} is before its onset {self.onset}")
        if self.apex is not None:
            object.__setattr__(self, "apex", int(self.apex))
        object.__setattr__(self, "kind", normalize_kind(self.kind))

    @property
    def length(self) -> int:
        """Number of frames, both ends included."""
        return self.offset - self.onset + 1

    def kind_at(self, fps: float | None) -> str:
        """The interval's kind, or its class by length at ``fps`` when no kind is set."""
        if self.kind is not None:
            return self.kind
        return classify_kind(self.onset, self.offset, fps)  # type: ignore[arg-type]


def as_interval(obj: Any) -> Interval:
    """Coerce ``obj`` to :class:`Interval`.

    Accepts an :class:`Interval`, any object with ``onset`` / ``offset`` (and optionally
    ``apex``, ``kind``, ``emotion``, ``score``) attributes or mapping keys, or a tuple
    ``(onset, offset)`` / ``(onset, offset, kind)``.
    """
    if isinstance(obj, Interval):
        return obj
    if isinstance(obj, Mapping):
        get = obj.get
    elif isinstance(obj, (tuple, list)):
        if len(obj) not in (2, 3):
            raise MetricsError(f"an interval tuple is (onset, offset[, kind]), got {obj!r}")
        return Interval(obj[0], obj[1], kind=obj[2] if len(obj) == 3 else None)
    elif hasattr(obj, "onset") and hasattr(obj, "offset"):

        def get(name: str, default: Any = None) -> Any:
            return getattr(obj, name, default)
    else:
        raise MetricsError(
            f"cannot read an interval from {type(obj).__name__}: it needs onset and offset frames"
        )
    if get("onset") is None or get("offset") is None:
        raise MetricsError(f"interval {obj!r} lacks an onset or offset frame")
    kind = get("kind")
    if kind is not None and not isinstance(kind, str):
        kind = getattr(kind, "value", kind)
    return Interval(get("onset"), get("offset"), get("apex"), kind, get("emotion"), get("score"))


def iou(a: Interval, b: Interval) -> float:
    """Frame IoU of two inclusive intervals (``+1`` on both the intersection and the union)."""
    inter, union = _inter_union(a, b)
    return inter / union


def _inter_union(a: Interval, b: Interval) -> tuple[int, int]:
    inter = max(0, min(a.offset, b.offset) - max(a.onset, b.onset) + 1)
    union = a.length + b.length - inter
    return inter, union


@dataclass
class Counts:
    """Pooled spotting counts. ``precision``, ``recall`` and ``f1`` are 0 on an empty denominator."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def n_pred(self) -> int:
        return self.tp + self.fp

    @property
    def n_truth(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)

    def as_dict(self) -> dict[str, float | int]:
        """``{"tp", "fp", "fn", "precision", "recall", "f1"}``."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def f1_score(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall; 0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _threshold(threshold: float) -> Fraction:
    if not 0 < threshold <= 1:
        raise MetricsError(f"the IoU threshold must be in (0, 1], got {threshold}")
    return Fraction(str(threshold)).limit_denominator(1_000_000)


def match_intervals(
    preds: Sequence[Any], truths: Sequence[Any], *, threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(pred_index, truth_index, iou)``; indices into the given sequences.

    Predictions in ``(onset, offset)`` order each take the unmatched truth of highest IoU
    with ``IoU >= threshold`` (ties: the earlier truth). IoU is compared exactly (integer
    frame counts), so ``IoU == 0.5`` counts at threshold 0.5.
    """
    thr = _threshold(threshold)
    p = [as_interval(x) for x in preds]
    t = [as_interval(x) for x in truths]
    p_order = sorted(range(len(p)), key=lambda i: (p[i].onset, p[i].offset, i))
    t_order = sorted(range(len(t)), key=lambda j: (t[j].onset, t[j].offset, j))
    free = set(range(len(t)))
    out: list[tuple[int, int, float]] = []
    for i in p_order:
        best: tuple[Fraction, int] | None = None
        for j in t_order:
            if j not in free:
                continue
            inter, union = _inter_union(p[i], t[j])
            if inter == 0:
                continue
            r = Fraction(inter, union)
            if r >= thr and (best is None or r > best[0]):
                best = (r, j)
        if best is not None:
            free.discard(best[1])
            out.append((i, best[1], float(best[0])))
    return out


def spotting_counts(preds: Sequence[Any], truths: Sequence[Any], *, threshold: float = 0.5) -> Counts:
    """TP / FP / FN of one video, kinds ignored (see :func:`match_intervals`)."""
    tp = len(match_intervals(preds, truths, threshold=threshold))
    return Counts(tp, len(preds) - tp, len(truths) - tp)


def _split(items: Iterable[Any], fps: float | None) -> dict[str, list[Interval]]:
    out: dict[str, list[Interval]] = {k: [] for k in KINDS}
    for x in items:
        iv = as_interval(x)
        out[iv.kind_at(fps)].append(iv)
    return out


def typed_counts(
    preds: Sequence[Any], truths: Sequence[Any], *, fps: float | None = None, threshold: float = 0.5
) -> dict[str, Counts]:
    """Per-kind counts of one video: ``{"me": Counts, "mae": Counts}``.

    A prediction is attributed by its own kind (or its length at ``fps``) and matched only
    against truths of that kind.
    """
    ps, ts = _split(preds, fps), _split(truths, fps)
    return {k: spotting_counts(ps[k], ts[k], threshold=threshold) for k in KINDS}


def spotting_scores(
    per_video: Mapping[str, tuple[Sequence[Any], Sequence[Any]]],
    *,
    fps: float | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Pooled MEGC spotting scores over videos.

    Args:
        per_video: ``{video: (predictions, ground_truths)}``; intervals as accepted by
            :func:`as_interval`. A video with no truths still contributes its FPs.
        fps: frame rate used to class intervals without a ``kind`` (by the 0.5 s rule).
        threshold: IoU threshold (0.5 in MEGC).

    Returns:
        ``{"overall": {...}, "me": {...}, "mae": {...}, "any_kind": {...}, "n_videos": N,
        "per_video": {video: {"tp", "fp", "fn"}}}`` where each block holds ``tp``, ``fp``,
        ``fn``, ``precision``, ``recall``, ``f1``. ``overall`` is the sum of the ``me`` and
        ``mae`` counts (kind-aware, MEGC); ``any_kind`` ignores kinds.
    """
    sums = {k: Counts() for k in (*KINDS, "any_kind")}
    per: dict[str, dict[str, int]] = {}
    for video, pair in per_video.items():
        try:
            preds, truths = pair
        except (TypeError, ValueError) as exc:
            raise MetricsError(f"video {video!r}: expected a (predictions, truths) pair") from exc
        tc = typed_counts(preds, truths, fps=fps, threshold=threshold)
        for k in KINDS:
            sums[k] = sums[k] + tc[k]
        sums["any_kind"] = sums["any_kind"] + spotting_counts(preds, truths, threshold=threshold)
        v = tc["me"] + tc["mae"]
        per[str(video)] = {"tp": v.tp, "fp": v.fp, "fn": v.fn}
    overall = sums["me"] + sums["mae"]
    return {
        "overall": overall.as_dict(),
        "me": sums["me"].as_dict(),
        "mae": sums["mae"].as_dict(),
        "any_kind": sums["any_kind"].as_dict(),
        "n_videos": len(per_video),
        "per_video": per,
    }


def strs(
    per_video: Mapping[str, tuple[Sequence[Any], Sequence[Any]]],
    *,
    emotions: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Spot-then-recognise score: spotting F1 x analysis F1 (pooled over videos).

    Args:
        per_video: ``{video: (predictions, ground_truths)}``; intervals carry ``emotion``.
        emotions: the analysis classes (default: every emotion among the ground truths,
            matched or not). A matched pair whose truth emotion is not a class is left out
            of the analysis.
        threshold: IoU threshold for the spotting match.

    Returns:
        ``{"strs", "spotting": {tp, fp, fn, precision, recall, f1}, "analysis": {"precision",
        "recall", "f1", "tp", "fp", "fn", "per_class": {c: {tp, fp, fn, precision, recall,
        f1}}}, "classes": [...]}``; analysis precision/recall are means over the classes.
    """
    spot = Counts()
    pairs: list[tuple[str | None, str | None]] = []  # (pred emotion, truth emotion) of matches
    truth_emotions: set[str] = set()
    for video, pair in per_video.items():
        try:
            preds, truths = pair
        except (TypeError, ValueError) as exc:
            raise MetricsError(f"video {video!r}: expected a (predictions, truths) pair") from exc
        p = [as_interval(x) for x in preds]
        t = [as_interval(x) for x in truths]
        truth_emotions.update(x.emotion for x in t if x.emotion is not None)
        m = match_intervals(p, t, threshold=threshold)
        spot = spot + Counts(len(m), len(p) - len(m), len(t) - len(m))
        pairs.extend((p[i].emotion, t[j].emotion) for i, j, _ in m)
    classes = list(emotions) if emotions is not None else sorted(truth_emotions)
    if not classes:
        raise MetricsError("STRS needs emotion classes: the ground truths carry no emotion labels")
    cls = set(classes)
    pairs = [(pe, te) for pe, te in pairs if te in cls]
    per_class: dict[str, dict[str, float | int]] = {}
    total = Counts()
    for c in classes:
        cc = Counts(
            tp=sum(1 for pe, te in pairs if pe == c and te == c),
            fp=sum(1 for pe, te in pairs if pe == c and te != c),
            fn=sum(1 for pe, te in pairs if te == c and pe != c),
        )
        total = total + cc
        per_class[c] = cc.as_dict()
    ap = sum(float(v["precision"]) for v in per_class.values()) / len(classes)
    ar = sum(float(v["recall"]) for v in per_class.values()) / len(classes)
    af1 = f1_score(ap, ar)
    return {
        "strs": spot.f1 * af1,
        "spotting": spot.as_dict(),
        "analysis": {
            "precision": ap,
            "recall": ar,
            "f1": af1,
            "tp": total.tp,
            "fp": total.fp,
            "fn": total.fn,
            "per_class": per_class,
        },
        "classes": classes,
    }


__all__ = [
    "KINDS",
    "ME_MAX_SECONDS",
    "Counts",
    "Interval",
    "MetricsError",
    "as_interval",
    "classify_kind",
    "f1_score",
    "iou",
    "match_intervals",
    "normalize_kind",
    "spotting_counts",
    "spotting_scores",
    "strs",
    "typed_counts",
]
