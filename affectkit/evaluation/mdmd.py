"""MDMD: the classical baseline spotter (Main Directional Maximal Difference analysis).

Wang et al. (2017) spot facial movements from the *maximal difference* of optical-flow
magnitudes in each block's *main direction*; the MEGC 2020 baseline (He, Wang, Li, Yap)
turned it into interval spotting for micro- and macro-expressions. This module follows
that baseline step by step, with OpenCV optical flow in place of RLOF:

1. Face crops: MediaPipe landmarks, eye-corner similarity alignment (``affectkit.face.align``)
   to a ``crop_size`` square, grey. The three frames of one comparison (``i - k``, ``i``,
   ``i + k``) are all cropped with the *reference frame's* (``i - k``) alignment, so
   landmark jitter never shows up as motion (MDMD itself crops once per video).
2. For every frame ``i`` and a distance ``k``: flow ``f1`` from frame ``i - k`` to ``i`` and
   ``f2`` from ``i - k`` to ``i + k`` (Farneback by default, DIS optional).
3. The crop is cut into a ``grid x grid`` (6 x 6) block grid. In each block the flow
   directions of ``f1`` are binned into the four quadrants; the most populated one is the
   *main direction*. For its pixels ``d = |f1| - |f2|``; the block's value is the mean of
   the largest third of ``d``. The frame's feature ``F_k(i)`` is the mean of the largest
   third of the block values. (It is large when frame ``i`` moved away from ``i - k`` and
   ``i + k`` came back: an onset-apex-offset within ``2k`` frames.)
4. Contrast ``C(i) = F(i) - (F(i - m) + F(i + m)) / 2`` with ``m = k - 1``.
5. Threshold ``T = mean(C) + p (max(C) - mean(C))`` per video (and never below
   ``min_motion`` pixels, so a still face spots nothing); runs of frames with ``C > T``
   are the spotted intervals.
6. Two passes as in the MEGC 2020 baseline: ``k`` of 0.4 s for micro-expressions, keeping
   runs lasting 0.2-0.5 s (``(offset - onset) / fps``), and ``k`` of 1.3 s for
   macro-expressions, keeping runs longer than 0.5 s. (The baseline's k were 12 and 39
   frames at 30 fps for CAS(ME)^2, 80 and 260 at 200 fps for SAMM: 0.4 s and 1.3 s.)

``p = 0.01`` is the MEGC 2020 baseline's own reported setting, and also the best region of a
sweep on a development set of injected videos built with another seed (1000), never on the
benchmark's truth (see ``docs/spotting-benchmark.md``); ``min_motion = 0.05`` crop pixels
sits an order of magnitude above the contrast of a still, re-encoded face (about 0.004).
No blink or speech masking,
no head-motion removal: that is the method; the strong optical-flow spotters add them.

Memory is flat in video length: a ring buffer holds the last ``2 k_macro + 1`` grey frames.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import ConfigError
from .metrics import Interval, classify_kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MDMDConfig:
    """Settings of the MDMD baseline.

    Attributes:
        crop_size: side of the aligned grey face crop, pixels.
        grid: blocks per side (6 in MDMD).
        k_micro_s, k_macro_s: the frame distance ``k`` of the micro and macro passes, seconds.
        p: threshold ratio in ``T = mean(C) + p (max(C) - mean(C))``.
        min_motion: floor of ``T`` in crop pixels (a still face spots nothing).
        micro_min_s: shortest micro run kept, ``(offset - onset) / fps`` in seconds.
        top_fraction: share of the largest values averaged (pixels in a block, blocks in a frame).
        flow: ``"farneback"`` or ``"dis"``.
        max_side: decode frames downscaled to this longer side (None: native size).
    """

    crop_size: int = 128
    grid: int = 6
    k_micro_s: float = 0.4
    k_macro_s: float = 1.3
    p: float = 0.01
    min_motion: float = 0.05
    micro_min_s: float = 0.2
    top_fraction: float = 1 / 3
    flow: str = "farneback"
    max_side: int | None = 640

    def validate(self) -> None:
        if self.crop_size < 4 * self.grid or self.grid < 1:
            raise ConfigError("crop_size must be at least 4 * grid pixels and grid >= 1")
        if not 0 < self.k_micro_s < self.k_macro_s:
            raise ConfigError("need 0 < k_micro_s < k_macro_s")
        if not 0 <= self.p < 1:
            raise ConfigError("p must be in [0, 1)")
        if not 0 < self.top_fraction <= 1:
            raise ConfigError("top_fraction must be in (0, 1]")
        if self.flow not in ("farneback", "dis"):
            raise ConfigError(f"flow must be 'farneback' or 'dis', got {self.flow!r}")

    def ks(self, fps: float) -> tuple[int, int]:
        """``(k_micro, k_macro)`` in frames at ``fps`` (at least 2 and 3)."""
        km = max(2, round(self.k_micro_s * fps))
        return km, max(km + 1, round(self.k_macro_s * fps))


@dataclass
class MDMDFeatures:
    """Per-frame MDMD features of one video.

    Attributes:
        fps: frame rate used.
        n_frames: frames decoded.
        k: ``{"me": k_micro, "mae": k_macro}`` in frames.
        feature: ``{"me": (n_frames,) float64, "mae": ...}``: ``F_k(i)``, NaN where undefined
            (the first and last ``k`` frames, frames before the first face).
        face_frames: frames in which a face was found.
    """

    fps: float
    n_frames: int
    k: dict[str, int]
    feature: dict[str, np.ndarray] = field(default_factory=dict)
    face_frames: int = 0

    def contrast(self, kind: str) -> np.ndarray:
        """``C(i) = F(i) - (F(i - m) + F(i + m)) / 2`` with ``m = k - 1``.

        Returns ``(n_frames,) float64``, NaN where undefined.
        """
        f = self.feature[kind]
        m = max(1, self.k[kind] - 1)
        c = np.full_like(f, np.nan)
        if len(f) > 2 * m:
            c[m:-m] = f[m:-m] - (f[: -2 * m] + f[2 * m :]) / 2
        return c


class _Flow:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "dis":
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow ``(S, S, 2) float32`` from grey crop ``a`` to ``b``."""
        if self.kind == "dis":
            return self._dis.calc(a, b, None)
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def mdmd_frame_feature(f1: np.ndarray, f2: np.ndarray, grid: int = 6, top_fraction: float = 1 / 3) -> float:
    """MDMD feature of one frame from its two flows.

    Args:
        f1: ``(S, S, 2)`` flow from frame ``i - k`` to ``i``.
        f2: ``(S, S, 2)`` flow from frame ``i - k`` to ``i + k``.
        grid: blocks per side.
        top_fraction: share of the largest values averaged, in each block and over blocks.

    Returns:
        The mean over the largest ``top_fraction`` blocks of each block's main-direction
        maximal difference (mean of the largest ``top_fraction`` of ``|f1| - |f2|`` among
        the block's pixels whose ``f1`` lies in the most populated quadrant).
    """
    s = f1.shape[0]
    b = s // grid
    n = grid * b

    def blocks(x: np.ndarray) -> np.ndarray:  # (S, S) -> (grid * grid, b * b)
        return x[:n, :n].reshape(grid, b, grid, b).transpose(0, 2, 1, 3).reshape(grid * grid, b * b)

    u, v = blocks(f1[..., 0]), blocks(f1[..., 1])
    d = np.hypot(u, v) - blocks(np.hypot(f2[..., 0], f2[..., 1]))
    quad = np.where(u >= 0, np.where(v >= 0, 0, 3), np.where(v >= 0, 1, 2))
    counts = np.stack([(quad == q).sum(1) for q in range(4)], 1)
    main = counts.argmax(1)
    inmain = quad == main[:, None]
    vals = np.where(inmain, d, -np.inf)
    vals = -np.sort(-vals, axis=1)  # descending, masked pixels last
    n_in = counts[np.arange(len(main)), main]
    take = np.maximum(1, np.round(n_in * top_fraction).astype(int))
    csum = np.cumsum(np.where(np.isfinite(vals), vals, 0.0), axis=1)
    block_val = csum[np.arange(len(take)), take - 1] / take
    block_val = np.sort(block_val)[::-1]
    nb = max(1, round(len(block_val) * top_fraction))
    return float(block_val[:nb].mean())


def mdmd_features(
    video_path: str | os.PathLike[str],
    config: MDMDConfig | None = None,
    *,
    fps: float | None = None,
    max_faces: int = 1,
) -> MDMDFeatures:
    """Stream a video once and compute ``F_k`` for the micro and macro ``k``.

    Args:
        video_path: the video (one face track: the largest face of each frame).
        config: settings (default :class:`MDMDConfig`).
        fps: frame rate (default: the file's).
        max_faces: faces MediaPipe looks for; the largest is used.
    """
    from ..face.align import alignment_matrix
    from ..face.landmarks import FaceLandmarker
    from ..media import iter_frame_list, probe, require_video

    cfg = config or MDMDConfig()
    cfg.validate()
    info = probe(video_path)
    require_video(info)
    rate = float(fps or info.fps or 25.0)
    k_me, k_mae = cfg.ks(rate)
    ks = {"me": k_me, "mae": k_mae}
    size = cfg.crop_size
    flow = _Flow(cfg.flow)
    buf: deque[tuple[np.ndarray, np.ndarray | None]] = deque(maxlen=2 * k_mae + 1)
    feats: dict[str, list[float]] = {"me": [], "mae": []}
    last_m: np.ndarray | None = None
    n_face = 0
    n = 0
    with FaceLandmarker(max_faces=max_faces) as lm:
        for n, t, img in iter_frame_list(video_path, max_side=cfg.max_side):
            faces = lm.detect(img, t)
            if faces:
                f = max(faces, key=lambda o: o.size)
                try:
                    last_m = alignment_matrix(f.landmarks, size)
                    n_face += 1
                except ValueError:
                    pass
            buf.append((cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), last_m))
            j = len(buf) - 1  # position of frame n in the buffer
            for kind, k in ks.items():
                feats[kind].append(np.nan)  # F at frame n - k is filled below
                if n < 2 * k:
                    continue
                ref_gray, m = buf[j - 2 * k]
                if m is None:
                    continue
                m32 = m.astype(np.float32)

                def crop(g: np.ndarray, m32: np.ndarray = m32) -> np.ndarray:
                    return cv2.warpAffine(
                        g, m32, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                    )

                c0, c1, c2 = crop(ref_gray), crop(buf[j - k][0]), crop(buf[j][0])
                feats[kind][n - k] = mdmd_frame_feature(
                    flow(c0, c1), flow(c0, c2), cfg.grid, cfg.top_fraction
                )
    total = n + 1 if feats["me"] else 0
    if n_face == 0:
        log.warning("%s: no face found; MDMD spots nothing", video_path)
    return MDMDFeatures(rate, total, ks, {k: np.asarray(v, np.float64) for k, v in feats.items()}, n_face)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` of the runs of True in a 1-D bool array."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def threshold(c: np.ndarray, p: float, floor: float = 0.0) -> float:
    """``max(mean(C) + p (max(C) - mean(C)), floor)`` over the defined values of ``C``."""
    ok = c[np.isfinite(c)]
    if ok.size == 0:
        return math.inf
    mean, top = float(ok.mean()), float(ok.max())
    return max(mean + p * (top - mean), floor)


def mdmd_decode(features: MDMDFeatures, config: MDMDConfig | None = None) -> list[Interval]:
    """Intervals from precomputed features (cheap: sweep ``p`` here without recomputing flow).

    Returns ME intervals (runs of ``C_micro > T`` lasting ``micro_min_s``-0.5 s) and MaE
    intervals (runs of ``C_macro > T`` lasting over 0.5 s), each with ``apex`` at the run's
    largest contrast and ``score`` that contrast, sorted by onset.
    """
    cfg = config or MDMDConfig()
    fps = features.fps
    out: list[Interval] = []
    for kind in ("me", "mae"):
        c = features.contrast(kind)
        t = threshold(c, cfg.p, cfg.min_motion)
        above = np.nan_to_num(c, nan=-np.inf) > t
        for a, b in _runs(above):
            if classify_kind(a, b, fps) != kind:
                continue
            if kind == "me" and (b - a) / fps < cfg.micro_min_s - 1e-9:
                continue
            apex = a + int(np.nanargmax(c[a : b + 1]))
            out.append(Interval(a, b, apex, kind, None, float(c[apex])))
    return sorted(out, key=lambda iv: (iv.onset, iv.offset))


def mdmd_spot(
    video_path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    max_faces: int = 1,
    config: MDMDConfig | None = None,
) -> list[Interval]:
    """Spot micro- and macro-expression intervals in a video with MDMD.

    Args:
        video_path: the video; one face track (the largest face in each frame).
        fps: frame rate (default: the file's).
        max_faces: faces MediaPipe looks for per frame; the largest is used.
        config: settings (default :class:`MDMDConfig`).

    Returns:
        :class:`~affectkit.evaluation.metrics.Interval` s in frames, ``kind`` ``"me"`` or
        ``"mae"``, sorted by onset.
    """
    feats = mdmd_features(video_path, config, fps=fps, max_faces=max_faces)
    return mdmd_decode(feats, config)


def sweep_p(
    per_video: Sequence[tuple[MDMDFeatures, Sequence[Interval]]],
    ps: Sequence[float],
    config: MDMDConfig | None = None,
) -> list[dict[str, float]]:
    """Overall F1 (MEGC, pooled) of MDMD for each ``p``: ``[{"p", "f1", "f1_me", "f1_mae"}, ...]``.

    For choosing ``p`` on a *development* set; never on the benchmark one reports.
    """
    from dataclasses import replace

    from .metrics import spotting_scores

    base = config or MDMDConfig()
    rows = []
    for p in ps:
        cfg = replace(base, p=float(p))
        res = spotting_scores(
            {str(i): (mdmd_decode(f, cfg), t) for i, (f, t) in enumerate(per_video)},
            fps=per_video[0][0].fps if per_video else None,
        )
        rows.append(
            {"p": float(p), "f1": res["overall"]["f1"], "f1_me": res["me"]["f1"], "f1_mae": res["mae"]["f1"]}
        )
    return rows


__all__ = [
    "MDMDConfig",
    "MDMDFeatures",
    "mdmd_decode",
    "mdmd_features",
    "mdmd_frame_feature",
    "mdmd_spot",
    "sweep_p",
    "threshold",
]
