"""Stable face-track ids across frames, gaps and cuts.

Every observation gets an identity signature made of

* **geometry**: the pose-normalised shape of ~60 rigid landmarks (face oval, nose, eye
  corners, brows), rotated into the head frame with MediaPipe's transformation matrix and
  scaled to unit size, so it depends on the person's face shape, not on where they look;
* **appearance**: a 12x12 illumination-normalised thumbnail of the aligned face and a
  hue/saturation histogram of the face and hair around it.

Frame to frame, a detection continues a track when it is near the track's predicted
position *and* looks like the track's previous frame (so two people who swap places at a cut
are not swapped). Detections that continue nothing are matched to any earlier track by
identity alone (re-identification after a gap, an occlusion or a cut, against a small gallery
of each track's past looks); the rest start new tracks. At the end, tracks that never overlap
in time and share an identity are merged, and tracks too short to be a face are dropped.

What it can do: follow several faces through missed detections and short occlusions, across
faces entering and leaving, and re-identify a person after a gap or a camera cut, also when
people change sides. What it cannot do: tell identical twins or very similar faces apart under
very different lighting, re-identify someone whose appearance changes completely (a new hat
and glasses in another room), or recognise people across different videos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from . import align
from .landmarks import FaceObservation

log = logging.getLogger(__name__)

FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
    176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
RIGID_POINTS: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 234, 127, 162, 21, 54, 103, 67, 109,  # upper face oval
    168, 6, 197, 195, 5, 4, 1, 98, 327,  # nose
    33, 133, 362, 263, 116, 345, 123, 352,  # eye corners, cheekbones
)  # fmt: skip
"""Landmarks that expressions hardly move (no jaw, lips or brows)."""

# typical distance between two different people, per signature part (measured on GRID speakers)
_SCALE_GEO, _SCALE_THUMB, _SCALE_HIST = 0.03, 0.80, 0.60


@dataclass
class Signature:
    """Identity signature of one observation.

    Attributes:
        geo: ``(len(RIGID_POINTS), 3) float32`` centred rigid shape, unit RMS radius.
        thumb: ``(144,) float32`` zero-mean, unit-norm 12x12 aligned face thumbnail.
        hist: ``(32,) float32`` square root of a normalised 8x4 hue/saturation histogram.
    """

    geo: np.ndarray
    thumb: np.ndarray
    hist: np.ndarray


def signature(image: np.ndarray, obs: FaceObservation) -> Signature:
    """The identity :class:`Signature` of ``obs`` in the ``(H, W, 3) uint8`` RGB ``image``."""
    q = obs.landmarks.astype(np.float64)[list(RIGID_POINTS)]
    q -= q.mean(0)
    q /= max(float(np.sqrt((q**2).sum(1).mean())), 1e-9)
    m = align.alignment_matrix(obs.landmarks, 48)
    crop = cv2.warpAffine(image, m.astype(np.float32), (48, 48), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)[8:44, 6:42]
    g = cv2.resize(g, (12, 12), interpolation=cv2.INTER_AREA).ravel()
    g = (g - g.mean()) / (g.std() + 1e-6) / 12.0
    # face plus hair: the same alignment, zoomed out 2x around the crop centre
    wide = m.copy()
    wide[:, :2] *= 0.5
    wide[:, 2] = wide[:, 2] * 0.5 + 12.0
    ctx = cv2.warpAffine(image, wide.astype(np.float32), (48, 48), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    hsv = cv2.cvtColor(ctx, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
    h = np.sqrt(h / max(float(h.sum()), 1e-9))
    return Signature(q.astype(np.float32), g.astype(np.float32), h.astype(np.float32))


def shape_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between two centred unit-size ``(N, 3)`` shapes after the best rotation of ``b``."""
    u, _, vt = np.linalg.svd(b.T.astype(np.float64) @ a.astype(np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    r = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(((b @ r - a) ** 2).sum(1).mean()))


def identity_distance(a: Signature, b: Signature) -> float:
    """Distance between two signatures; about 1 separates different people (< 0.7: same)."""
    return float(
        (
            shape_distance(a.geo, b.geo) / _SCALE_GEO
            + np.linalg.norm(a.thumb - b.thumb) / _SCALE_THUMB
            + np.linalg.norm(a.hist - b.hist) / _SCALE_HIST
        )
        / 3.0
    )


@dataclass
class _Track:
    id: int
    first_t: float
    last_t: float
    center: np.ndarray
    size: float
    last_sig: Signature
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    frames: int = 1
    gallery: list[Signature] = field(default_factory=list)
    gallery_t: float = -1e9
    spans: list[list[float]] = field(default_factory=list)

    def predict(self, t: float) -> np.ndarray:
        dt = min(t - self.last_t, 0.5)
        return self.center + self.velocity * dt

    def gallery_distance(self, sig: Signature) -> float:
        return min(identity_distance(sig, g) for g in self.gallery) if self.gallery else 9.0


@dataclass
class TrackerConfig:
    """Tracking thresholds (distances in units of :func:`identity_distance`, motion in face sizes)."""

    max_gap: float = 1.0
    """seconds a track may go unseen and still be continued by position"""
    max_motion: float = 1.2
    """most face sizes a face may move between predictions to continue a track"""
    continuity_distance: float = 1.0
    """largest identity distance to the track's previous look for a continuation"""
    reid_distance: float = 0.6
    """largest identity distance to a track's gallery for re-identification"""
    reid_cost: float = 0.2
    """extra cost of a re-identification edge over a continuation"""
    merge_distance: float = 0.5
    """largest mean gallery distance to merge two non-overlapping tracks at the end"""
    gallery_size: int = 12
    gallery_every: float = 0.4
    """seconds between gallery updates"""
    min_track_frames: int = 3
    """shorter tracks are dropped as spurious"""


class FaceTracker:
    """Assigns stable track ids to per-frame :class:`FaceObservation` s (see module docs)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0

    @property
    def n_tracks(self) -> int:
        return len(self._tracks)

    def update(self, observations: list[FaceObservation], t: float, image: np.ndarray) -> list[int]:
        """Assign a track id to each observation of the frame at ``t`` (same order).

        One assignment (Hungarian) over two kinds of edges, each observation to each track:
        *continuation* (near the predicted position, looks like the previous frame; cost =
        half the motion in face sizes plus the identity distance to the previous look) and
        *re-identification* (identity alone against the track's gallery; cost = distance plus
        :attr:`TrackerConfig.reid_cost`). At a cut where people swap places, the continuation
        edges look wrong and the re-identification edges win.
        """
        if not observations:
            return []
        cfg = self.cfg
        sigs = [signature(image, o) for o in observations]
        cands = [tr for tr in self._tracks.values() if tr.last_t < t]
        ids: list[int | None] = [None] * len(observations)
        if cands:
            cost = np.full((len(observations), len(cands)), np.inf)
            for i, (o, s) in enumerate(zip(observations, sigs)):
                for j, tr in enumerate(cands):
                    gap = t - tr.last_t
                    if gap <= cfg.max_gap:
                        slack = 1.0 + gap
                        motion = float(np.linalg.norm(o.center - tr.predict(t))) / max(tr.size, 1.0)
                        d = identity_distance(s, tr.last_sig)
                        if motion <= cfg.max_motion * slack and d <= cfg.continuity_distance * slack:
                            cost[i, j] = 0.5 * motion + d
                    if cost[i, j] <= cfg.reid_cost:
                        continue  # a re-identification edge cannot be cheaper: skip the gallery
                    d_gal = tr.gallery_distance(s)
                    if d_gal <= cfg.reid_distance:
                        cost[i, j] = min(cost[i, j], d_gal + cfg.reid_cost)
            ids = self._assign(cost, cands, ids)
        for i, o in enumerate(observations):
            if ids[i] is None:
                tid = self._next_id
                self._next_id += 1
                self._tracks[tid] = _Track(tid, t, t, o.center.copy(), o.size, sigs[i], spans=[[t, t]])
                ids[i] = tid
            self._observe(self._tracks[ids[i]], o, sigs[i], t)
        return [int(i) for i in ids]  # type: ignore[arg-type]

    @staticmethod
    def _assign(cost: np.ndarray, tracks: list[_Track], ids: list[int | None]) -> list[int | None]:
        finite = np.where(np.isfinite(cost), cost, 1e6)
        rows, cols = linear_sum_assignment(finite)
        for r, c in zip(rows, cols):
            if np.isfinite(cost[r, c]) and ids[r] is None:
                ids[r] = tracks[c].id
        return ids

    def _observe(self, tr: _Track, o: FaceObservation, sig: Signature, t: float) -> None:
        if tr.frames > 1 or t > tr.first_t:
            dt = t - tr.last_t
            if 0 < dt <= self.cfg.max_gap:
                v = (o.center - tr.center) / dt
                tr.velocity = (0.6 * tr.velocity + 0.4 * v).astype(np.float32)
                tr.spans[-1][1] = t
            elif dt > self.cfg.max_gap:
                tr.velocity = np.zeros(2, np.float32)
                tr.spans.append([t, t])
            tr.frames += 1
        tr.center = o.center.copy()
        tr.size = 0.8 * tr.size + 0.2 * o.size
        tr.last_t = t
        tr.last_sig = sig
        if t - tr.gallery_t >= self.cfg.gallery_every or not tr.gallery:
            tr.gallery_t = t
            if len(tr.gallery) < self.cfg.gallery_size:
                tr.gallery.append(sig)
            else:  # replace the most redundant look, keeping the gallery diverse
                d = [min(identity_distance(g, h) for h in tr.gallery if h is not g) for g in tr.gallery]
                tr.gallery[int(np.argmin(d))] = sig

    def finalize(self) -> dict[int, int]:
        """Merge tracks of the same person and drop spurious ones.

        Returns:
            ``{track_id: group_id}`` for the kept tracks; tracks sharing a ``group_id`` (the
            smallest track id in the group) are one person. Dropped tracks are absent.
        """
        keep = {i: tr for i, tr in self._tracks.items() if tr.frames >= self.cfg.min_track_frames}
        if len(keep) < len(self._tracks):
            log.info("dropped %d face track(s) shorter than %d frames", len(self._tracks) - len(keep),
                     self.cfg.min_track_frames)
        group = {i: i for i in keep}

        def root(i: int) -> int:
            while group[i] != i:
                i = group[i]
            return i

        ordered = sorted(keep.values(), key=lambda tr: tr.first_t)
        for a_i, a in enumerate(ordered):
            for b in ordered[a_i + 1 :]:
                ra, rb = root(a.id), root(b.id)
                if ra == rb:
                    continue
                members_a = [tr for tr in ordered if root(tr.id) == ra]
                members_b = [tr for tr in ordered if root(tr.id) == rb]
                if _overlap(members_a, members_b):
                    continue
                d = np.mean([identity_distance(g, h) for x in members_a for g in x.gallery
                             for y in members_b for h in y.gallery])
                if d <= self.cfg.merge_distance:
                    group[max(ra, rb)] = min(ra, rb)
                    log.debug("merged face tracks %d and %d (distance %.2f)", ra, rb, d)
        return {i: root(i) for i in keep}


def _overlap(a: list[_Track], b: list[_Track]) -> bool:
    """True when any span of the tracks in ``a`` overlaps any span of those in ``b``."""
    for x in a:
        for y in b:
            for s0, s1 in x.spans:
                for u0, u1 in y.spans:
                    if s0 <= u1 and u0 <= s1:
                        return True
    return False
