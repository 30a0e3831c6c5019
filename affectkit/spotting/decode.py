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
    generic_weight: float = 0.8
    """weight of the generic ROI-magnitude score next to the AU templates"""
    speech_weight: float = 0.25
    blink_threshold: float = 0.2
    blink_dilate: int = 2
    """frames masked on each side of an eye closure"""
    blink_brow_weight: float = 0.3
    speech_patterns: tuple[str, ...] = ("jaw_drop", "lip_press", "chin_raise", "upper_lip_raise")
    """AU templates that speech itself produces: ignored while the person speaks"""
    head_motion_degrees: float = 4.0
    """pose change between a frame and its reference above which the frame weighs less"""
    cut_abs: float = 6.0
    """a jump of the aligned face larger than this (grey levels) ..."""
    cut_rel: float = 4.0
    """... and this many times the local median is a shot cut"""
    onset_fraction: float = 0.2
    """onset/offset: where the rebuilt displacement crosses this share of its peak"""
    merge_seconds: float = 3.5
    """an onset bump and an opposite offset bump this close are one held expression"""
    merge_cosine: float = -0.4
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


def valid_rows(ref: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """``(T,) bool``: rows with a reference frame and no cut between the reference and themselves."""
    valid = ref >= 0
    rows = np.arange(len(ref))
    for c in cuts:
        valid &= ~((ref < c) & (rows >= c))
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
        factor = np.clip(cfg.head_motion_degrees / np.maximum(pose_change, 1e-6), 0.0, 1.0) ** 2
        w *= factor[:, None].astype(np.float32)
    return w


def noise_units(mag: np.ndarray, valid: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
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
        out[sel] = (mag[sel] - med) / np.maximum(mad, 0.05)
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
    zp = np.abs(noise_units_signed(proj, valid, speaking))
    if speaking is not None:
        for k, pat in enumerate(PATTERNS):
            if pat.name in cfg.speech_patterns:
                zp[speaking.astype(bool), k] = 0.0
    mag = np.linalg.norm(flow, axis=2)
    zg = frame_scores(noise_units(mag, valid, speaking), w, valid, cfg.top_rois)
    return np.where(valid, np.maximum(zp.max(1), cfg.generic_weight * zg), 0.0)


def noise_units_signed(x: np.ndarray, valid: np.ndarray, state: np.ndarray | None) -> np.ndarray:
    """Like :func:`noise_units` for signed signals (``(T, K)``): centred on the median."""
    return noise_units(x, valid, state)


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

    Args:
        times: ``(T,)`` seconds.
        flow: ``(T, R, 2)`` ROI motion since the reference frame (``roi_flow``).
        ref: ``(T,)`` reference rows (``flow_ref``; -1: none).
        fps: frame rate (for the duration prior).
        crop_diff: ``(T,)`` change from the previous frame (shot cuts), optional.
        blink: ``(T,)`` eye closure 0-1, optional.
        speaking: ``(T,) bool``, optional.
        pose: ``(T, 3)`` yaw, pitch, roll degrees, optional.
        score: ``(T,)`` a per-frame score from a learned spotter (in noise units, i.e. the
            same scale as the classical curve); replaces the classical score curve.
    Returns:
        The intervals, and the ``(T,)`` smoothed score curve (noise units).
    """
    cfg = config or DecodeConfig()
    n = len(times)
    if n == 0:
        return [], np.zeros(0, np.float32)
    ref = np.asarray(ref, np.int64)
    cuts = cut_rows(crop_diff, cfg, fps) if crop_diff is not None else np.zeros(0, np.int64)
    valid = valid_rows(ref, cuts)
    pose_change = None
    if pose is not None:
        safe = np.where(ref >= 0, ref, np.arange(n))
        pose_change = np.abs(pose[:, :2] - pose[safe, :2]).sum(1)
    w = roi_weights(n, blink=blink, speaking=speaking, pose_change=pose_change, ref=ref, cfg=cfg)
    raw = score_curve(flow, w, valid, speaking, cfg) if score is None else np.where(valid, score, 0.0)
    kp = duration_prior(fps)
    s = uniform_filter1d(raw, size=kp, mode="nearest")
    if not np.any(s > 0):
        return [], s.astype(np.float32)
    mean = float(s[valid].mean()) if valid.any() else float(s.mean())
    thr = max(mean + cfg.threshold_ratio * (float(s.max()) - mean), cfg.min_score)
    peaks, _ = find_peaks(s, height=thr, distance=kp)
    grow = int(cfg.growth_factor * kp)
    cands: list[tuple[int, int, int, float]] = []
    for p in peaks:
        a = p
        while a > 0 and p - a < grow and s[a - 1] >= mean and valid[a - 1]:
            a -= 1
        b = p
        while b < n - 1 and b - p < grow and s[b + 1] >= mean and valid[b + 1]:
            b += 1
        cands.append((a, b, int(p), float(s[p])))
    cands = _nms(cands)
    cands = _merge_held(cands, flow, ref, w, times, cfg)
    out = []
    for a, b, p, score in cands:
        iv = _refine(a, b, score, times, flow, ref, w, fps, cfg, thr)
        if iv is not None:
            out.append(iv)
    return out, s.astype(np.float32)


def _nms(cands: list[tuple[int, int, int, float]]) -> list[tuple[int, int, int, float]]:
    """Keep the strongest of overlapping intervals."""
    kept: list[tuple[int, int, int, float]] = []
    for c in sorted(cands, key=lambda c: -c[3]):
        if all(c[1] < k[0] or c[0] > k[1] for k in kept):
            kept.append(c)
    return sorted(kept)


def _merge_held(cands, flow, ref, w, times, cfg):
    """Join an onset bump with a later bump that moves the opposite way (a held expression)."""
    if len(cands) < 2:
        return cands
    merged = [cands[0]]
    for c in cands[1:]:
        a, b, p, sc = merged[-1]
        if times[c[0]] - times[b] <= cfg.merge_seconds:
            d_first = rebuild_displacement(flow, ref, a, b)[-1] * w[b][:, None]
            net_second = rebuild_displacement(flow, ref, c[0], c[1])[-1] * w[c[1]][:, None]
            u, v = d_first.ravel(), net_second.ravel()
            cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
            if cos <= cfg.merge_cosine:
                merged[-1] = (a, c[1], p if sc >= c[3] else c[2], max(sc, c[3]))
                continue
        merged.append(c)
    return merged


def _refine(a, b, score, times, flow, ref, w, fps, cfg, thr) -> SpottedInterval | None:
    """Onset, apex and offset from the rebuilt displacement inside ``[a, b]``."""
    disp = rebuild_displacement(flow, ref, a, b)
    e = _energy(disp, w[a : b + 1], cfg.top_rois)
    if e.max() <= 0:
        return None
    ap = int(np.argmax(e))
    on_mask = e >= cfg.onset_fraction * e[ap]
    first = int(np.argmax(on_mask))
    last = len(e) - 1 - int(np.argmax(on_mask[::-1]))
    onset, apex, offset = a + first, a + ap, a + last
    # F lags motion by the reference gap: nothing moves after the last row whose change is still new
    if offset - onset + 1 < 2 or times[offset] - times[onset] < cfg.min_seconds:
        return None
    dur = float(times[offset] - times[onset])
    if dur > MACRO_MAX_SECONDS:
        return None
    kind = "micro_expression" if dur < MICRO_MAX_SECONDS else "macro_expression"
    d_apex = disp[ap]
    mags = np.linalg.norm(d_apex, axis=1) * w[apex]
    tot = float(mags.sum()) or 1.0
    share = {ROIS[i].name: round(float(mags[i] / tot), 3) for i in np.argsort(-mags)[:4] if mags[i] > 0}
    conf = float(1.0 / (1.0 + np.exp(-(score - thr) / max(0.25 * thr, 1e-6))))
    return SpottedInterval(
        onset=onset, apex=apex, offset=offset,
        onset_time=float(times[onset]), apex_time=float(times[apex]), offset_time=float(times[offset]),
        kind=kind, score=float(score), confidence=round(min(max(conf, 0.0), 1.0), 3),
        displacement=d_apex.astype(np.float32), roi_share=share,
    )
