"""Score curve -> expression intervals (onset, apex, offset): prior-guided interval decoding.

After "Boosting Micro-Expression Analysis via Prior-Guided Video-Level Regression"
(BoostingVRME): the per-frame ROI motion becomes one score curve per face, which is smoothed
with a box of about the expected micro-expression length (the duration prior
``k_p = (median ME length in frames + 1) / 2``, from the fps), thresholded between its mean and
its maximum, searched for peaks (``scipy.signal.find_peaks``), and each peak grows while the
score stays at or above the mean, up to ``5 k_p`` each side; overlapping intervals are
suppressed (NMS). Micro vs macro is decided by duration (0.5 s).

affectkit adds what conversation video needs:

* **matched filters**: besides the ROI magnitudes, the frame score projects the ROI motion on
  the directional templates of frequent AUs (:data:`affectkit.spotting.rois.PATTERNS`: both
  brows up, lip corners up and out, ...), which sums the coherent motion of several regions and
  averages their noise away;
* **noise-relative scores**: every signal is divided by its own robust noise level (separately
  while the person speaks and while not), and the threshold never drops below ``min_score``
  noise units, so a face that shows nothing yields nothing (the original always fires, as every
  challenge video holds an expression);
* **masks**: frames around shot cuts (a jump of the aligned face) are invalid; eye and brow
  regions are masked during blinks; mouth and chin regions weigh less while the person
  speaks; frames with a fast head turn or nod weigh less;
* **displacement reconstruction**: features are motion since a frame ``ref`` seconds back,
  ``F(t) = D(t) - D(t - ref)``; inside an interval the displacement ``D`` is rebuilt by chaining
  ``D(t) = F(t) + D(ref(t))``, which gives onset, apex and offset without the ``ref`` lag, and
  lets an expression held for seconds (an onset bump and, later, an offset bump moving the
  opposite way) be decoded as one macro-expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks

from .rois import GROUPS, PATTERNS, ROIS, SPEECH_GROUPS, pattern_matrix

ME_MEDIAN_SECONDS = 0.43
"""Median micro-expression length (CAS(ME)^2 0.47 s, SAMM-LV 0.39 s; facts.md)."""
MICRO_MAX_SECONDS = 0.5
"""Micro vs macro boundary used by the MEGC challenges."""
MACRO_MAX_SECONDS = 4.5


@dataclass
class DecodeConfig:
    """Decoder settings (defaults tuned on the injected GRID benchmark, see docs/spotting.md)."""

    threshold_ratio: float = 0.55
    """threshold = mean + ratio x (max - mean) of the smoothed score (BoostingVRME)"""
    min_score: float = 4.0
    """the threshold never goes below this many noise units"""
    growth_factor: float = 5.0
    """an interval grows at most ``growth_factor x k_p`` frames each side of its peak"""
    top_rois: int = 3
    """the generic score is the mean of the strongest weighted ROIs"""
    tail_quantile: float | None = 95.0
    """noise scale: the larger of the MAD and this quantile of |deviation| (heavy tails); None: MAD"""
    generic_weight: float = 0.8
    """weight of the generic ROI-magnitude score next to the AU templates"""
    speech_weight: float = 0.25
    blink_threshold: float = 0.45
    blink_dilate: int = 2
    """frames masked on each side of an eye closure"""
    blink_brow_weight: float = 0.3
    speech_patterns: tuple[str, ...] = (
        "jaw_drop", "lip_press", "chin_raise", "upper_lip_raise", "lip_stretch", "dimpler", "lip_corner_depress",
        "lip_corner_pull", "nose_wrinkle",
    )
    """AU templates whose regions speech moves: ignored while the person speaks"""
    head_motion_degrees: float = 2.0
    """pose change (yaw + pitch, degrees) between a frame and its reference at which it weighs half"""
    cut_abs: float = 4.0
    """a jump of the aligned face larger than this (grey levels) ..."""
    cut_rel: float = 4.0
    """... and this many times the local median is a shot cut"""
    onset_fraction: float = 0.2
    """onset/offset: where the rebuilt displacement crosses this share of its peak"""
    scales: tuple[int, ...] = (1, 2, 4)
    """time scales: motion over this many reference gaps (0.2, 0.4 and 0.8 s by default)"""
    nms_iou: float = 0.3
    """candidates overlapping a stronger one this much are dropped"""
    min_seconds: float = 0.12
    """shorter intervals are noise"""


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

    @property
    def duration(self) -> float:
        return self.offset_time - self.onset_time


def duration_prior(fps: float) -> int:
    """``k_p`` in frames: half the median micro-expression length, at least 2."""
    return max(2, int(round((ME_MEDIAN_SECONDS * fps + 1) / 2)))


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


def frame_scores(z: np.ndarray, w: np.ndarray, valid: np.ndarray, top: int) -> np.ndarray:
    """``(T,)`` score: mean of the ``top`` strongest weighted ROI z-scores; 0 on invalid rows."""
    wz = np.clip(z, 0, None) * w
    k = min(top, wz.shape[1])
    s = np.sort(wz, axis=1)[:, -k:].mean(1)
    return np.where(valid, s, 0.0)


def pattern_scores(flow: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(T, P)`` projections of the weighted ROI motion on the AU templates. ``flow``: ``(T, R, 2)``."""
    return np.einsum("trc,prc->tp", flow * w[..., None], pattern_matrix())


def score_curve(flow: np.ndarray, w: np.ndarray, valid: np.ndarray, speaking: np.ndarray | None,
                cfg: DecodeConfig) -> np.ndarray:
    """``(T,)`` raw frame score in noise units: the strongest AU-template response (either sign:
    onsets and offsets move opposite ways), or the generic ROI magnitude score if higher."""
    proj = pattern_scores(flow, w)
    zp = np.abs(noise_units(proj, valid, speaking, cfg.tail_quantile))
    if speaking is not None:
        for k, pat in enumerate(PATTERNS):
            if pat.name in cfg.speech_patterns:
                zp[speaking.astype(bool), k] = 0.0
    mag = np.linalg.norm(flow, axis=2)
    zg = frame_scores(noise_units(mag, valid, speaking, cfg.tail_quantile), w, valid, cfg.top_rois)
    return np.where(valid, np.maximum(zp.max(1), cfg.generic_weight * zg), 0.0)


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


def _energy(disp: np.ndarray, w: np.ndarray, top: int) -> np.ndarray:
    """``(n,)`` weighted displacement energy: mean of the ``top`` strongest weighted ROI magnitudes."""
    m = np.linalg.norm(disp, axis=2) * w
    k = min(top, m.shape[1])
    return np.sort(m, axis=1)[:, -k:].mean(1)


def chain_flow(flow: np.ndarray, ref: np.ndarray, valid: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motion over ``steps`` reference gaps: ``F_m(t) = F(t) + F(ref(t)) + ...`` (``= D(t) - D(ref^m(t))``).

    Args:
        flow: ``(T, R, 2)``; ref: ``(T,)``; valid: ``(T,) bool``.
    Returns:
        ``(T, R, 2)`` chained motion, ``(T,) bool`` validity (every link valid), ``(T,)`` the
        ``m``-step reference row (-1: none).
    """
    out = flow.astype(np.float32).copy()
    ok = valid.copy()
    cur = ref.astype(np.int64).copy()
    for _ in range(steps - 1):
        good = cur >= 0
        safe = np.maximum(cur, 0)
        out[good] += flow[safe[good]]
        ok &= good
        ok[good] &= valid[safe[good]]
        cur = np.where(good, ref[safe], -1)
    return out, ok, cur


@dataclass
class _Candidate:
    a: int
    b: int
    peak: int
    score: float
    scale: int
    pattern: int  # -1: generic
    sign: float


def _candidates(raw: np.ndarray, valid: np.ndarray, size: int, grow_max: int, cfg: DecodeConfig,
                pattern_of: np.ndarray, sign_of: np.ndarray, scale: int) -> tuple[list[_Candidate], np.ndarray, float]:
    """Prior-guided peaks of one score curve (smooth, threshold, find peaks, grow while >= mean)."""
    s = uniform_filter1d(raw, size=max(1, size), mode="nearest")
    n = len(s)
    if not np.any(s > 0):
        return [], s, float("inf")
    mean = float(s[valid].mean()) if valid.any() else float(s.mean())
    thr = max(mean + cfg.threshold_ratio * (float(s.max()) - mean), cfg.min_score)
    peaks, _ = find_peaks(s, height=thr, distance=max(1, size))
    out = []
    for p in peaks:
        a = p
        while a > 0 and p - a < grow_max and s[a - 1] >= mean and valid[a - 1]:
            a -= 1
        b = p
        while b < n - 1 and b - p < grow_max and s[b + 1] >= mean and valid[b + 1]:
            b += 1
        k = int(np.argmax(raw[a : b + 1])) + a  # strongest raw frame decides the pattern
        out.append(_Candidate(int(a), int(b), int(p), float(s[p]), scale, int(pattern_of[k]), float(sign_of[k])))
    return out, s, thr


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
    score: np.ndarray | None = None,
) -> tuple[list[SpottedInterval], np.ndarray]:
    """Spot expressions in one face track.

    The classical score is computed at several time scales (motion over 1, 2 and 4 reference
    gaps, by chaining the stored flow), each decoded with a duration prior of its own length;
    candidates from all scales are refined on the rebuilt displacement and suppressed (NMS).

    Args:
        times: ``(T,)`` seconds.
        flow: ``(T, R, 2)`` ROI motion since the reference frame (``roi_flow``).
        ref: ``(T,)`` reference rows (``flow_ref``; -1: none).
        fps: frame rate (for the duration prior).
        crop_diff: ``(T,)`` change from the previous frame (shot cuts), optional.
        blink: ``(T,)`` eye closure 0-1, optional.
        speaking: ``(T,) bool``, optional.
        pose: ``(T, 3)`` yaw, pitch, roll degrees, optional.
        score: ``(T,)`` a per-frame score from a learned spotter (noise-unit scale); replaces the
            classical score curves.
    Returns:
        The intervals, and the ``(T,)`` smoothed score curve (noise units, max over scales).
    """
    cfg = config or DecodeConfig()
    n = len(times)
    if n == 0:
        return [], np.zeros(0, np.float32)
    ref = np.asarray(ref, np.int64)
    flow = np.asarray(flow, np.float32)
    cuts = cut_rows(crop_diff, cfg, fps) if crop_diff is not None else np.zeros(0, np.int64)
    valid = valid_rows(ref, cuts)
    kp = duration_prior(fps)
    gap = _ref_gap_frames(ref)
    w1 = _weights(n, blink, speaking, pose, ref, cfg)
    cands: list[_Candidate] = []
    curve = np.zeros(n, np.float32)
    thr_min = float("inf")
    if score is not None:
        raw = np.where(valid, score, 0.0)
        pat, sign = _best_patterns(flow, w1, valid, speaking, cfg)
        c, s, thr = _candidates(raw, valid, kp, int(cfg.growth_factor * kp), cfg, pat, sign, 1)
        cands += c
        curve = np.maximum(curve, s)
        thr_min = min(thr_min, thr)
    else:
        for m in cfg.scales:
            fm, vm, rm = chain_flow(flow, ref, valid, m)
            wm = _weights(n, blink, speaking, pose, rm, cfg)
            raw, pat, sign = _scale_scores(fm, wm, vm, speaking, cfg)
            size = max(kp, int(round(m * gap / 2)) + 1)
            c, s, thr = _candidates(raw, vm, size, int(cfg.growth_factor * size), cfg, pat, sign, m)
            cands += c
            curve = np.maximum(curve, s)
            thr_min = min(thr_min, thr)
    out: list[SpottedInterval] = []
    for c in sorted(cands, key=lambda c: -c.score):
        iv = _refine(c, times, flow, ref, w1, valid, gap, fps, cfg, thr_min)
        if iv is None:
            continue
        if all(_iou(iv, k) < cfg.nms_iou for k in out):
            out.append(iv)
    return sorted(out, key=lambda i: i.onset), curve.astype(np.float32)


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


def _scale_scores(flow: np.ndarray, w: np.ndarray, valid: np.ndarray, speaking: np.ndarray | None,
                  cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw score ``(T,)``, best pattern ``(T,)`` (-1 generic) and its sign ``(T,)`` at one scale."""
    proj = pattern_scores(flow, w)
    zs = noise_units(proj, valid, speaking, cfg.tail_quantile)
    za = np.abs(zs)
    if speaking is not None:
        for k, pat in enumerate(PATTERNS):
            if pat.name in cfg.speech_patterns:
                za[speaking.astype(bool), k] = 0.0
    best = za.argmax(1)
    zbest = za[np.arange(len(za)), best]
    mag = np.linalg.norm(flow, axis=2)
    zg = cfg.generic_weight * frame_scores(noise_units(mag, valid, speaking, cfg.tail_quantile), w, valid, cfg.top_rois)
    raw = np.where(valid, np.maximum(zbest, zg), 0.0)
    pattern = np.where(zbest >= zg, best, -1)
    sign = np.sign(zs[np.arange(len(zs)), best])
    return raw, pattern, sign


def _best_patterns(flow, w, valid, speaking, cfg):  # noqa: ANN001, ANN202
    _, pat, sign = _scale_scores(flow, w, valid, speaking, cfg)
    return pat, sign


def _iou(a: SpottedInterval, b: SpottedInterval) -> float:
    inter = max(0, min(a.offset, b.offset) - max(a.onset, b.onset) + 1)
    union = (a.offset - a.onset + 1) + (b.offset - b.onset + 1) - inter
    return inter / union


def _refine(c: _Candidate, times, flow, ref, w, valid, gap, fps, cfg, thr) -> SpottedInterval | None:  # noqa: ANN001
    """Onset, apex and offset of a candidate from the rebuilt displacement along its pattern.

    The displacement is rebuilt from a little before the candidate; the apex is its strongest
    point inside the candidate, onset and offset where it falls below ``onset_fraction`` of the
    apex on either side. A displacement that never returns within :data:`MACRO_MAX_SECONDS`
    (a head turn, a cut, a new posture) is not an expression.
    """
    n = len(times)
    start = max(0, c.a - gap)
    limit = int(MACRO_MAX_SECONDS * fps)
    end = min(n - 1, max(c.b + c.scale * gap, start + 2))
    u = pattern_matrix()[c.pattern] if c.pattern >= 0 else None
    while True:
        disp = rebuild_displacement(flow, ref, start, end)
        if u is not None:
            proj = c.sign * np.einsum("trc,rc->t", disp * w[start : end + 1, :, None], u)
        else:
            proj = _energy(disp, w[start : end + 1], cfg.top_rois)
        lo, hi = c.a - start, c.b - start
        ap = lo + int(np.argmax(proj[lo : hi + 1]))
        peak = float(proj[ap])
        if peak <= 0:
            return None
        level = cfg.onset_fraction * peak
        i = ap
        while i > 0 and proj[i - 1] >= level and valid[start + i - 1]:
            i -= 1
        j = ap
        while j < len(proj) - 1 and proj[j + 1] >= level and valid[start + j + 1]:
            j += 1
        returned = j < len(proj) - 1
        if returned or end >= n - 1 or end - start >= limit:
            break
        end = min(n - 1, end + gap * 4)
    onset, apex, offset = start + i, start + ap, start + j
    if not returned and offset >= n - 1:
        returned = True  # the video ends inside the expression
    dur = float(times[offset] - times[onset])
    if not returned or dur > MACRO_MAX_SECONDS or dur < cfg.min_seconds:
        return None
    kind = "micro_expression" if dur < MICRO_MAX_SECONDS else "macro_expression"
    d_apex = rebuild_displacement(flow, ref, start, apex)[-1]
    mags = np.linalg.norm(d_apex, axis=1) * w[apex]
    tot = float(mags.sum()) or 1.0
    share = {ROIS[k].name: round(float(mags[k] / tot), 3) for k in np.argsort(-mags)[:4] if mags[k] > 0}
    conf = float(1.0 / (1.0 + np.exp(-(c.score - thr) / max(0.25 * thr, 1e-6))))
    return SpottedInterval(
        onset=int(onset), apex=int(apex), offset=int(offset),
        onset_time=float(times[onset]), apex_time=float(times[apex]), offset_time=float(times[offset]),
        kind=kind, score=float(c.score), confidence=round(min(max(conf, 0.0), 1.0), 3),
        displacement=d_apex.astype(np.float32), roi_share=share,
    )
