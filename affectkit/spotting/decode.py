"""ROI motion -> expression intervals (onset, apex, offset): prior-guided interval decoding.

BoostingVRME ("Boosting Micro-Expression Analysis via Prior-Guided Video-Level Regression")
decodes a per-frame score with a duration prior ``k_p = (median ME length + 1) / 2``: smooth
with a box of the prior's length, threshold between the score's mean and maximum, find peaks,
grow each while the score stays above the mean (up to ``5 k_p``), suppress overlaps (NMS), and
split micro from macro at 0.5 s. affectkit keeps that recipe and generalises the single prior
to a bank of them, which conversation video needs (expressions from 0.16 s to 4 s, held or
not, during speech):

* **AU templates as spatial matched filters**: each frame's ROI motion is projected on the
  directional templates of frequent AUs (:data:`affectkit.spotting.rois.PATTERNS`: both brows
  up, lip corners up and out, ...), which sums the coherent motion of several regions and
  averages their independent noise away;
* **duration priors as temporal matched filters**: an expression of length ``L`` seen through
  features that compare each frame with one ``gap`` frames back looks like
  ``g(t) - g(t - gap)`` for a raised-cosine profile ``g`` (:func:`template_bank`); correlating
  every template's series with every prior's kernel replaces the box smoothing, so the
  response peaks where an interval of that length starts, with its onset and offset;
* **noise units everywhere**: projections are divided by their robust noise level (separately
  while the person speaks and while not), and each prior's response again, so priors compete
  fairly; the threshold never drops below ``min_score`` noise units, so a face that shows
  nothing yields nothing (the mean-max rule alone always fires, as every challenge video holds
  an expression; it stays available as ``threshold_ratio``);
* **masks**: frames around shot cuts are invalid; eye and brow regions are masked during blinks;
  the templates that articulation itself produces (jaw drop, lip press, chin raise) are ignored
  while the person speaks and mouth regions weigh less; frames with a fast head turn or nod
  weigh less.

Peaks of every prior's response above the threshold are candidates; non-maximum suppression
across priors keeps the strongest of overlapping ones. The apex is where the displacement
rebuilt by chaining the features (``D(t) = F(t) + D(ref(t))``) is largest along the matched
template. A learned per-frame probability (:mod:`.regressor`) is decoded by
:func:`decode_probability` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from .rois import GROUPS, PATTERNS, ROIS, SPEECH_GROUPS, pattern_matrix

MICRO_MAX_SECONDS = 0.5
"""Micro vs macro boundary used by the MEGC challenges."""
MACRO_MAX_SECONDS = 4.5


@dataclass
class DecodeConfig:
    """Decoder settings (defaults chosen on a development set of the injected GRID benchmark,
    seed 1, never on the reported benchmark; see docs/spotting.md)."""

    min_score: float = 5.5
    """threshold on a macro-length prior's response, in noise units"""
    micro_min_score: float = 6.5
    """threshold for micro-length priors (< 0.5 s): there are more of them, and short windows of
    talking-face motion mimic a brief expression more often"""
    threshold_ratio: float = 0.0
    """> 0: also require mean + ratio x (max - mean) of the response (BoostingVRME's rule, which
    assumes every video holds an expression)"""
    min_seconds: float = 0.16
    """shortest duration prior"""
    max_seconds: float = 4.0
    """longest duration prior"""
    holds: tuple[float, ...] = (0.0, 0.3, 0.6)
    """apex holds (share of the length) tried for macro-expressions"""
    min_coverage: float = 0.8
    """a prior's response counts only where this share of its frames carry evidence"""
    min_positions: int = 75
    """a prior is used only where it can be placed at this many positions (and 3x its length):
    its noise level is estimated from them"""
    z_clip: float = 8.0
    """per-frame noise units are clipped here, so one wild frame cannot make an interval"""
    top_rois: int = 3
    """the generic score (learned features) is the mean of the strongest weighted ROIs"""
    tail_quantile: float | None = None
    """noise scale: the larger of the MAD and this quantile of |deviation|; None: MAD"""
    speech_weight: float = 0.25
    """mouth regions weigh this much while the person speaks (in the learned spotter's input; the
    classical scores are normalised per speaking state, so there the states' own noise decides)"""
    blink_threshold: float = 0.45
    blink_dilate: int = 2
    """frames masked on each side of an eye closure"""
    blink_brow_weight: float = 0.3
    speech_patterns: tuple[str, ...] = (
        "jaw_drop", "lip_press", "chin_raise", "lip_stretch", "dimpler", "upper_lip_raise",
    )
    """AU templates that articulation itself produces: ignored while the person speaks (on the
    development set this costs 0.01 F1 and removes a fifth of the false positives)"""
    head_motion_degrees: float = 4.0
    """pose change (yaw + pitch, degrees) between a frame and its reference at which it weighs half"""
    cut_abs: float = 4.0
    """a jump of the aligned face larger than this (grey levels) ..."""
    cut_rel: float = 4.0
    """... and this many times the local median is a shot cut"""


@dataclass
class SpottedInterval:
    """One spotted expression of one face track (rows index the track's frames)."""

    onset: int
    apex: int
    offset: int
    onset_time: float
    apex_time: float
    offset_time: float
    kind: str  # micro_expression / macro_expression
    score: float
    """peak of the smoothed score, in noise units"""
    confidence: float
    displacement: np.ndarray = field(repr=False)
    """``(R, 2) float32`` ROI displacement at the apex (crop pixels, y down)"""
    roi_share: dict[str, float] = field(default_factory=dict)
    pattern: str | None = None
    """the AU template that detected it (classical decoder)"""

    @property
    def duration(self) -> float:
        return self.offset_time - self.onset_time


def cut_rows(crop_diff: np.ndarray, cfg: DecodeConfig, fps: float) -> np.ndarray:
    """Rows where the aligned face jumps (shot cuts). ``crop_diff``: ``(T,)``; returns row indices."""
    win = max(3, int(round(fps)))
    local = np.array([np.median(crop_diff[max(0, i - win) : i + win + 1]) for i in range(len(crop_diff))])
    return np.flatnonzero((crop_diff > cfg.cut_abs) & (crop_diff > cfg.cut_rel * np.maximum(local, 0.5)))


def valid_rows(ref: np.ndarray, cuts: np.ndarray, margin: int = 2) -> np.ndarray:
    """``(T,) bool``: rows with a reference frame, no cut between the reference and themselves,
    and no cut within ``margin`` rows (encoders smear a cut over a frame or two)."""
    valid = ref >= 0
    rows = np.arange(len(ref))
    for c in cuts:
        valid &= ~((ref < c) & (rows >= c))
        valid[max(0, c - margin) : c + margin + 1] = False
    return valid


def roi_weights(
    n: int,
    *,
    blink: np.ndarray | None,
    speaking: np.ndarray | None,
    pose_change: np.ndarray | None,
    ref: np.ndarray,
    cfg: DecodeConfig,
) -> np.ndarray:
    """``(T, R)`` ROI weights from the masks.

    Args:
        n: frames ``T``.
        blink: ``(T,)`` eye closure 0-1 (AU45) or None.
        speaking: ``(T,) bool`` or None.
        pose_change: ``(T,)`` degrees of head rotation since each row's reference, or None.
        ref: ``(T,)`` reference rows.
    """
    w = np.ones((n, len(ROIS)), np.float32)
    if blink is not None:
        closed = maximum_filter1d(blink >= cfg.blink_threshold, size=2 * cfg.blink_dilate + 1)
        # a blink anywhere between the reference and the frame contaminates the flow
        csum = np.concatenate([[0], np.cumsum(closed)])
        rows = np.arange(n)
        lo = np.clip(np.where(ref >= 0, ref, rows), 0, n)
        any_closed = (csum[rows + 1] - csum[lo]) > 0
        eye = list(GROUPS["eye"])
        brow = list(GROUPS["brow"])
        w[np.ix_(any_closed, eye)] = 0.0
        w[np.ix_(any_closed, brow)] *= cfg.blink_brow_weight
    if speaking is not None:
        idx = [i for g in SPEECH_GROUPS for i in GROUPS[g]]
        w[np.ix_(speaking.astype(bool), idx)] *= cfg.speech_weight
    if pose_change is not None:
        factor = 1.0 / (1.0 + (pose_change / cfg.head_motion_degrees) ** 2)
        w *= factor[:, None].astype(np.float32)
    return w


def noise_units(mag: np.ndarray, valid: np.ndarray, state: np.ndarray | None = None,
                tail_quantile: float | None = 95.0) -> np.ndarray:
    """Per-ROI robust z-scores ``(m - median) / (1.4826 MAD)`` over valid rows.

    Args:
        mag: ``(T, R)`` ROI motion magnitudes.
        valid: ``(T,) bool`` rows that define the noise level.
        state: ``(T,) bool`` (speaking), or None: with it, each state gets its own noise level,
            so the lips' usual motion in speech is the baseline while speaking.
    Returns:
        ``(T, R)`` float z-scores.
    """
    out = np.zeros_like(mag, dtype=np.float64)
    states = [np.ones(len(mag), bool)] if state is None else [state.astype(bool), ~state.astype(bool)]
    for sel in states:
        if not sel.any():
            continue
        ref = mag[sel & valid]
        if len(ref) < 10:  # too few rows in this state: use every valid row
            ref = mag[valid] if valid.any() else mag
        med = np.median(ref, axis=0)
        mad = np.median(np.abs(ref - med), axis=0) * 1.4826
        # heavy tails (speech, gaze) widen the scale: a 95th percentile far above a Gaussian's counts
        scale = mad
        if tail_quantile is not None:
            from scipy.stats import norm

            z_q = float(norm.ppf(0.5 + tail_quantile / 200.0))
            scale = np.maximum(mad, np.percentile(np.abs(ref - med), tail_quantile, axis=0) / z_q)
        out[sel] = (mag[sel] - med) / np.maximum(scale, 0.05)
    return out


def pattern_scores(flow: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(T, P)`` projections of the weighted ROI motion on the AU templates. ``flow``: ``(T, R, 2)``."""
    return np.einsum("trc,prc->tp", flow * w[..., None], pattern_matrix())


def rebuild_displacement(flow: np.ndarray, ref: np.ndarray, start: int, end: int) -> np.ndarray:
    """Chain ``D(t) = F(t) + D(ref(t))`` over rows ``start..end`` with ``D = 0`` before ``start``.

    Args:
        flow: ``(T, R, 2)`` ROI motion since each row's reference.
        ref: ``(T,)`` reference rows.
    Returns:
        ``(end - start + 1, R, 2)`` displacement since just before ``start``.
    """
    out = np.zeros((end - start + 1,) + flow.shape[1:], np.float32)
    for i in range(start, end + 1):
        r = ref[i]
        prev = out[r - start] if r >= start else 0.0
        out[i - start] = flow[i] + prev
    return out


def profile(length: int, hold: float) -> np.ndarray:
    """``(length,)`` expression displacement profile: raised-cosine rise, a hold of ``hold`` of the
    length at the apex, raised-cosine fall (values at frame centres, 0-1)."""
    t = np.arange(length) + 0.5
    r = max(1.0, (1.0 - hold) * length / 2.0)
    top = length - 2 * r
    g = np.ones(length)
    up = t < r
    g[up] = 0.5 - 0.5 * np.cos(np.pi * t[up] / r)
    dn = t > r + top
    g[dn] = 0.5 - 0.5 * np.cos(np.pi * (length - t[dn]) / r)
    return g


def template_bank(fps: float, gap: int, cfg: DecodeConfig) -> list[tuple[int, float, np.ndarray]]:
    """Duration priors as matched filters: ``[(length in frames, hold, kernel)]``.

    Every length from ``cfg.min_seconds`` to 0.6 s (micro-expressions are short, so each frame
    counts), then geometric steps up to :data:`MACRO_MAX_SECONDS`. The kernel is what the
    stored features see of the profile: ``F(t) = D(t) - D(t - gap)``, so ``K = g - shift(g, gap)``,
    scaled to unit norm.
    """
    lo = max(2, int(round(cfg.min_seconds * fps)))
    mid = int(round(0.6 * fps))
    lengths = set(range(lo, mid + 1))
    lengths |= set(np.round(np.geomspace(mid, cfg.max_seconds * fps, 14)).astype(int).tolist())
    out = []
    for d in sorted(lengths):
        for h in ((0.0,) if d < MICRO_MAX_SECONDS * fps else cfg.holds):
            g = profile(int(d), h)
            k = np.zeros(int(d) + gap)
            k[: int(d)] += g
            k[gap : gap + int(d)] -= g
            out.append((int(d), float(h), k / np.linalg.norm(k)))
    return out


def decode(
    times: np.ndarray,
    flow: np.ndarray,
    ref: np.ndarray,
    fps: float,
    *,
    crop_diff: np.ndarray | None = None,
    blink: np.ndarray | None = None,
    speaking: np.ndarray | None = None,
    pose: np.ndarray | None = None,
    config: DecodeConfig | None = None,
) -> tuple[list[SpottedInterval], np.ndarray]:
    """Spot expressions in one face track (classical, no training).

    1. Each frame's ROI motion is projected on the AU templates and turned into noise units
       (per speaking state), with the masks applied (cuts, blinks, speech, head motion).
    2. Each duration prior of :func:`template_bank` is matched against every template's series
       (correlation with the kernel), and the response is again put in noise units, so long and
       short priors compete fairly.
    3. Prior-guided decoding: for each prior, local maxima above the threshold (at least
       ``min_score``; between mean and maximum of the response when ``threshold_ratio`` > 0) are
       candidate intervals ``[t, t + length)``; non-maximum suppression keeps the strongest of
       overlapping candidates across priors.

    Args:
        times: ``(T,)`` seconds.
        flow: ``(T, R, 2)`` ROI motion since the reference frame (``roi_flow``).
        ref: ``(T,)`` reference rows (``flow_ref``; -1: none).
        fps: frame rate (for the duration priors).
        crop_diff: ``(T,)`` change from the previous frame (shot cuts), optional.
        blink: ``(T,)`` eye closure 0-1, optional.
        speaking: ``(T,) bool``, optional.
        pose: ``(T, 3)`` yaw, pitch, roll degrees, optional.
    Returns:
        The intervals, and the ``(T,)`` per-frame score curve (the strongest response of any
        prior whose interval covers the frame, noise units).
    """
    cfg = config or DecodeConfig()
    n = len(times)
    if n == 0:
        return [], np.zeros(0, np.float32)
    ref = np.asarray(ref, np.int64)
    flow = np.asarray(flow, np.float32)
    cuts = cut_rows(crop_diff, cfg, fps) if crop_diff is not None else np.zeros(0, np.int64)
    valid = valid_rows(ref, cuts)
    gap = _ref_gap_frames(ref)
    w = _weights(n, blink, speaking, pose, ref, cfg)
    z = np.clip(noise_units(pattern_scores(flow, w), valid, speaking, cfg.tail_quantile), -cfg.z_clip, cfg.z_clip)
    if speaking is not None:
        spk = speaking.astype(bool)
        for k, pat in enumerate(PATTERNS):
            if pat.name in cfg.speech_patterns:
                z[spk, k] = 0.0
    z[~valid] = 0.0
    present = (z != 0).astype(np.float64)
    cands: list[tuple[float, int, int, int, int]] = []  # score, a, b, pattern, sign
    curve = np.zeros(n, np.float32)
    for length, _hold, kern in template_bank(fps, gap, cfg):
        if length + gap > n:
            continue
        resp = _correlate(z, kern)
        cover = _correlate(present, np.abs(kern) / np.abs(kern).sum())
        stat = np.zeros_like(resp)
        for k in range(resp.shape[1]):
            ok = cover[:, k] >= cfg.min_coverage
            if ok.sum() < max(cfg.min_positions, 3 * length):
                continue  # too few positions to know this prior's noise level (a short video)
            r = resp[ok, k]
            med = np.median(r)
            mad = 1.4826 * np.median(np.abs(r - med)) + 1e-9
            stat[:, k] = np.where(ok, (resp[:, k] - med) / mad, 0.0)
        best = np.abs(stat).max(1)
        which = np.abs(stat).argmax(1)
        mean = float(best.mean())
        thr = cfg.micro_min_score if length < MICRO_MAX_SECONDS * fps else cfg.min_score
        if cfg.threshold_ratio > 0:
            thr = max(thr, mean + cfg.threshold_ratio * (float(best.max()) - mean))
        size = max(3, length // 2)
        peaks = np.flatnonzero((best >= thr) & (best == maximum_filter1d(best, size=size)))
        for t0 in peaks:
            b = t0 + length - 1
            if b < n:
                sgn = int(np.sign(stat[t0, which[t0]]))
                cands.append((float(best[t0]), int(t0), int(b), int(which[t0]), sgn))
        # per-frame curve: the best response whose interval covers the frame
        cover_best = maximum_filter1d(best, size=length, origin=-(length // 2))
        curve = np.maximum(curve, cover_best.astype(np.float32))
    kept: list[tuple[float, int, int, int, int]] = []
    for c in sorted(cands, key=lambda c: -c[0]):
        if all(c[2] < k[1] or c[1] > k[2] for k in kept):
            kept.append(c)
    bank = {(d, h): k for d, h, k in template_bank(fps, gap, cfg)}
    out = []
    for score, a, b, pat, sgn in sorted(kept, key=lambda c: c[1]):
        a, b = _refine_extent(z[:, pat] * (sgn or 1), a, b, bank, n)
        iv = _interval(a, b, score, pat, sgn, times, flow, ref, w, cfg)
        if iv is not None:
            out.append(iv)
    return out, curve


def _refine_extent(series: np.ndarray, a: int, b: int, bank: dict, n: int) -> tuple[int, int]:
    """The start and length (near the detected ones) whose unit-norm kernel correlates best with
    the matched template's series: the detection step compares priors in noise units, which
    favours smooth long priors a little; the raw correlation is the least-squares fit."""
    length = b - a + 1
    best = (-np.inf, a, b)
    for (d, _h), k in bank.items():
        if not (0.6 * length <= d <= 1.4 * length):
            continue
        for t0 in range(max(0, a - 3), min(n - len(k), a + 3) + 1):
            c = float(k @ series[t0 : t0 + len(k)])
            if c > best[0]:
                best = (c, t0, t0 + d - 1)
    return (best[1], best[2]) if np.isfinite(best[0]) else (a, b)


def _correlate(x: np.ndarray, kern: np.ndarray) -> np.ndarray:
    """``out[t] = sum_tau kern[tau] x[t + tau]`` for ``(T, K)`` ``x`` (zero beyond the end)."""
    from scipy.signal import fftconvolve

    n = len(x)
    full = fftconvolve(x, kern[::-1, None], mode="full", axes=0)
    return full[len(kern) - 1 : len(kern) - 1 + n]


def _ref_gap_frames(ref: np.ndarray) -> int:
    rows = np.arange(len(ref))
    d = (rows - ref)[ref >= 0]
    return int(np.median(d)) if d.size else 1


def _weights(n, blink, speaking, pose, ref, cfg):  # noqa: ANN001, ANN202
    pose_change = None
    if pose is not None:
        safe = np.where(ref >= 0, ref, np.arange(n))
        pose_change = np.abs(pose[:, :2] - pose[safe, :2]).sum(1)
    return roi_weights(n, blink=blink, speaking=speaking, pose_change=pose_change, ref=ref, cfg=cfg)


def _interval(a: int, b: int, score: float, pattern: int, sign: int, times, flow, ref, w,  # noqa: ANN001
              cfg: DecodeConfig) -> SpottedInterval | None:
    """A candidate ``[a, b]`` as a :class:`SpottedInterval` (apex: largest rebuilt displacement
    along the matched template)."""
    dur = float(times[b] - times[a])
    if dur < cfg.min_seconds - 1e-9 or dur > MACRO_MAX_SECONDS:
        return None
    start = max(0, a - 1)
    disp = rebuild_displacement(flow, ref, start, b)
    u = pattern_matrix()[pattern]
    along = (sign or 1) * np.einsum("trc,rc->t", disp * w[start : b + 1, :, None], u)
    apex = min(max(start + int(np.argmax(along)), a), b)
    d_apex = disp[apex - start]
    mags = np.linalg.norm(d_apex, axis=1) * w[apex]
    tot = float(mags.sum()) or 1.0
    share = {ROIS[k].name: round(float(mags[k] / tot), 3) for k in np.argsort(-mags)[:4] if mags[k] > 0}
    conf = float(1.0 / (1.0 + np.exp(-(score - cfg.min_score) / 1.5)))
    return SpottedInterval(
        onset=int(a), apex=int(apex), offset=int(b),
        onset_time=float(times[a]), apex_time=float(times[apex]), offset_time=float(times[b]),
        kind="micro_expression" if dur < MICRO_MAX_SECONDS else "macro_expression",
        score=float(score), confidence=round(min(max(conf, 0.0), 1.0), 3),
        displacement=d_apex.astype(np.float32), roi_share=share, pattern=PATTERNS[pattern].name,
    )


def decode_probability(
    times: np.ndarray,
    prob: np.ndarray,
    flow: np.ndarray,
    ref: np.ndarray,
    fps: float,
    *,
    boundary: np.ndarray | None = None,
    crop_diff: np.ndarray | None = None,
    high: float = 0.5,
    low: float = 0.3,
    context_seconds: float = 0.0,
    config: DecodeConfig | None = None,
) -> list[SpottedInterval]:
    """Intervals from a learned per-frame expression probability.

    Runs where the (3-frame smoothed) probability rises above ``high`` and stays above ``low``;
    each end moves to the strongest predicted onset/offset within two frames when the boundary
    heads are confident (MELDAE); the apex is the frame of largest rebuilt displacement. A run
    touching invalid frames (a cut) is dropped; ``context_seconds`` > 0 also asks for that much
    valid context before it (off by default: on the benchmark it cost true detections and removed
    no false alarms).

    Args:
        prob: ``(T,)`` probability 0-1; boundary: ``(T, 2)`` onset/offset probabilities.
    """
    cfg = config or DecodeConfig()
    n = len(times)
    if n == 0:
        return []
    ref = np.asarray(ref, np.int64)
    cuts = cut_rows(crop_diff, cfg, fps) if crop_diff is not None else np.zeros(0, np.int64)
    valid = valid_rows(ref, cuts)
    p = uniform_filter1d(np.where(valid, prob, 0.0), size=3, mode="nearest")
    min_context = int(round(context_seconds * fps))
    out: list[SpottedInterval] = []
    i = 0
    while i < n:
        if p[i] < high:
            i += 1
            continue
        a = i
        while a > 0 and p[a - 1] >= low:
            a -= 1
        b = i
        while b < n - 1 and p[b + 1] >= low:
            b += 1
        i = b + 1
        if boundary is not None:
            lo_a, hi_a = max(0, a - 2), min(n, a + 3)
            if boundary[lo_a:hi_a, 0].max() > 0.3:
                a = lo_a + int(np.argmax(boundary[lo_a:hi_a, 0]))
            lo_b, hi_b = max(0, b - 2), min(n, b + 3)
            if boundary[lo_b:hi_b, 1].max() > 0.3:
                b = lo_b + int(np.argmax(boundary[lo_b:hi_b, 1]))
        if b <= a:
            continue
        ctx = max(0, a - min_context)
        if not valid[ctx : b + 1].all():
            continue  # too near a cut or the track's start: the model's context there is cut short
        dur = float(times[b] - times[a])
        if dur < cfg.min_seconds or dur > MACRO_MAX_SECONDS:
            continue
        disp = rebuild_displacement(flow, ref, max(0, a - 1), b)
        mags = np.linalg.norm(disp, axis=2)
        ap = max(0, a - 1) + int(np.argmax(mags.sum(1)))
        ap = min(max(ap, a), b)
        d_apex = disp[ap - max(0, a - 1)]
        m = np.linalg.norm(d_apex, axis=1)
        tot = float(m.sum()) or 1.0
        share = {ROIS[k].name: round(float(m[k] / tot), 3) for k in np.argsort(-m)[:4] if m[k] > 0}
        peak = float(p[a : b + 1].max())
        out.append(SpottedInterval(
            onset=a, apex=ap, offset=b, onset_time=float(times[a]), apex_time=float(times[ap]),
            offset_time=float(times[b]), kind="micro_expression" if dur < MICRO_MAX_SECONDS else "macro_expression",
            score=peak * 10.0, confidence=round(peak, 3), displacement=d_apex.astype(np.float32), roi_share=share,
        ))
    return out
