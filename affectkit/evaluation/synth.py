"""An expression-injection benchmark built from real talking faces.

Real spotting datasets (CAS(ME)^2, SAMM-LV) cannot be redistributed, so affectkit measures
its spotter on *injected* expressions: real GRID talking-face clips are concatenated into
longer videos and smooth, local, AU-shaped warps are added at known frames. The talking,
blinking and small head motion of the real clips are the distractors; the injected warps
are the ground truth, written in the MEGC CSV format.

How a warp is made (per frame):

1. MediaPipe landmarks of the original frame (smoothed over time with a Gaussian of one
   frame, per clip) give a face frame: ``x`` from the subject's right to left outer eye
   corner, ``up`` perpendicular to it, face width ``W`` = cheek-to-cheek landmark distance.
2. Each action unit is a few control points (means of landmarks: brows, lid, cheek, lip
   corners) with a displacement in face coordinates (up / towards the midline), see
   :data:`AU_LIBRARY`. The displacement field is ``d(x) = 2 sum_c w_c d_c / (1 + sum_c w_c)``
   with anisotropic Gaussian weights ``w_c`` (widths a fraction of ``W`` along the face's x
   and up axes): smooth, local, and equal to ``d_c`` at an isolated control point.
   Zero-displacement anchors keep the upper eyelids still under brow and lid AUs; a falloff
   widens when its slope would exceed :data:`MAX_GRADIENT` (no folding).
3. The frame is resampled with ``cv2.remap`` (``out(x) = in(x - d(x))``, bicubic) inside
   the region where ``|d| >= 0.01`` px; every other pixel is left untouched.
4. A time profile scales the field: a raised-cosine rise from onset to apex, an optional
   hold, a raised-cosine fall to offset; every frame in ``[onset, offset]`` moves (the
   onset and offset frames slightly), no frame outside does.

Defaults: micro-expressions last 0.2-0.5 s (``(offset - onset) / fps``) at 1.2 % of the
face width, macro-expressions 0.6-2.0 s at 4 %, each event's amplitude jittered by
+-20 %; AUs drawn from ``AU1+AU2`` (surprise), ``AU4`` (anger), ``AU6`` and ``AU12``
(happiness), ``AU7`` (others) and ``AU15`` (sadness). Events never overlap (a gap of at
least 0.5 s) and never straddle a clip cut (3 frames of margin), since a cut is itself a
jump of the picture; each clip is also aligned to the previous one (similarity transform on
rigid landmarks) so that a cut does not make the head jump. :class:`SynthConfig` is the
difficulty knob.

Memory stays flat in video length: frames are streamed twice (landmarks, then warping and
encoding); only a few landmarks per frame are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import AffectkitError, ConfigError
from ..io import atomic_write_text
from .metrics import Interval, classify_kind

log = logging.getLogger(__name__)

SYNTH_VERSION = 3
"""Bumped whenever the rendering changes, so cached benchmark videos are rebuilt."""

TRUTH_COLUMNS = ("subject", "video", "onset", "apex", "offset", "type", "aus", "emotion")
"""The MEGC-style ground-truth CSV header (frames, inclusive; type ``me``/``mae``)."""


class SynthError(AffectkitError):
    """The injection benchmark cannot be built with these inputs."""


class TruthFormatError(AffectkitError):
    """A ground-truth CSV is malformed."""


# --------------------------------------------------------------------------------------
# Action units as landmark-anchored displacement fields
# --------------------------------------------------------------------------------------

# MediaPipe mesh indices; "right"/"left" are the subject's (right appears on the image's left)
_R_EYE_OUTER, _L_EYE_OUTER = 33, 263
_R_CHEEK_EDGE, _L_CHEEK_EDGE = 234, 454
_RIGID = (33, 133, 362, 263, 6, 1, 234, 454)  # eye corners, nose bridge and tip, cheek edges


@dataclass(frozen=True)
class ControlPoint:
    """One control point of an AU warp, defined on the subject's right side and mirrored.

    Attributes:
        right, left: landmark indices whose mean is the point on each side.
        up: displacement upwards (face frame), in units of the event amplitude.
        medial: displacement towards the face midline (negative: outwards).
    """

    right: tuple[int, ...]
    left: tuple[int, ...]
    up: float
    medial: float = 0.0


@dataclass(frozen=True)
class AUWarp:
    """An action unit's warp: control points, Gaussian falloff and the region it moves.

    Attributes:
        name: ``"AU12"``.
        description: FACS name.
        points: control points (both sides).
        sigma: Gaussian falloff along the face's x axis, fraction of the face width.
        sigma_up: falloff along the face's up axis (narrower for brows and lids, so the
            eye below a brow stays put), fraction of the face width.
        gain: amplitude multiplier (small structures such as eyelids move less).
        region: ``brows`` / ``eyes`` / ``cheeks`` / ``mouth`` (used by tests and docs).
        anchors: ``(right, left)`` landmark groups held still (zero displacement that takes
            part in the field's normalisation, e.g. the upper eyelids under a brow raise).
    """

    name: str
    description: str
    points: tuple[ControlPoint, ...]
    sigma: float
    sigma_up: float
    gain: float
    region: str
    anchors: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()


_BROW_INNER = ((107, 55), (336, 285))
_BROW_MID = ((105, 52), (334, 282))
_BROW_OUTER = ((70, 46), (300, 276))
_UPPER_LID = (((159,), (386,)),)

AU_LIBRARY: dict[str, AUWarp] = {
    "AU1": AUWarp(
        "AU1",
        "inner brow raiser",
        (ControlPoint(*_BROW_INNER, up=1.0), ControlPoint(*_BROW_MID, up=0.4)),
        0.07,
        0.035,
        1.0,
        "brows",
        _UPPER_LID,
    ),
    "AU2": AUWarp(
        "AU2",
        "outer brow raiser",
        (ControlPoint(*_BROW_OUTER, up=1.0), ControlPoint(*_BROW_MID, up=0.6)),
        0.07,
        0.035,
        1.0,
        "brows",
        _UPPER_LID,
    ),
    "AU4": AUWarp(
        "AU4",
        "brow lowerer",
        (
            ControlPoint(*_BROW_INNER, up=-0.8, medial=0.6),
            ControlPoint(*_BROW_MID, up=-0.7, medial=0.3),
            ControlPoint(*_BROW_OUTER, up=-0.3),
        ),
        0.07,
        0.035,
        1.0,
        "brows",
        _UPPER_LID,
    ),
    "AU6": AUWarp(
        "AU6",
        "cheek raiser",
        (ControlPoint((118,), (347,), up=1.0), ControlPoint((50,), (280,), up=0.8)),
        0.08,
        0.06,
        1.0,
        "cheeks",
    ),
    "AU7": AUWarp(
        "AU7",
        "lid tightener",
        (ControlPoint((145, 144, 153), (374, 373, 380), up=1.0),),
        0.05,
        0.03,
        1.0,
        "eyes",
        _UPPER_LID,
    ),
    "AU12": AUWarp(
        "AU12",
        "lip corner puller",
        (ControlPoint((61,), (291,), up=0.8, medial=-0.6),),
        0.07,
        0.055,
        1.0,
        "mouth",
    ),
    "AU15": AUWarp(
        "AU15",
        "lip corner depressor",
        (ControlPoint((61,), (291,), up=-1.0, medial=-0.1),),
        0.07,
        0.055,
        1.0,
        "mouth",
    ),
}
"""Atomic AUs. Combine them with ``+`` (``"AU1+AU2"``, ``"AU6+AU12"``): the fields add up."""

DEFAULT_AUS: tuple[str, ...] = ("AU1+AU2", "AU4", "AU6", "AU7", "AU12", "AU15")
"""The AU combinations the benchmark draws from (uniformly)."""

COARSE_EMOTION = {
    "happiness": "positive",
    "surprise": "surprise",
    "anger": "negative",
    "sadness": "negative",
    "disgust": "negative",
    "fear": "negative",
    "others": "others",
}
"""Fine emotion label -> the 3 classes (+ others) of spot-then-recognise challenges."""

LANDMARK_IDS: tuple[int, ...] = tuple(
    sorted(
        set(_RIGID)
        | {i for au in AU_LIBRARY.values() for cp in au.points for i in (*cp.right, *cp.left)}
        | {i for au in AU_LIBRARY.values() for pair in au.anchors for side in pair for i in side}
    )
)
"""The landmarks a warp needs; only these are kept per frame."""
_ROW = {lm: r for r, lm in enumerate(LANDMARK_IDS)}


def parse_aus(au: str) -> list[str]:
    """``"AU1+AU2"`` -> ``["AU1", "AU2"]``; raises :class:`ConfigError` on an unknown AU."""
    parts = [p.strip().upper() for p in str(au).split("+") if p.strip()]
    if not parts:
        raise ConfigError("an expression needs at least one AU, e.g. 'AU12' or 'AU1+AU2'")
    bad = [p for p in parts if p not in AU_LIBRARY]
    if bad:
        raise ConfigError(f"unknown AU {'+'.join(bad)!r}; known: {', '.join(AU_LIBRARY)} (combine with '+')")
    return list(dict.fromkeys(parts))


def emotion_for(aus: str | Sequence[str]) -> str:
    """Emotion label of an AU combination: AU6/AU12 happiness, AU1/AU2 surprise, AU4 anger,
    AU15 sadness, anything else (AU7 alone) others."""
    s = set(parse_aus(aus) if isinstance(aus, str) else aus)
    if s & {"AU6", "AU12"}:
        return "happiness"
    if "AU4" in s:
        return "anger"
    if "AU15" in s:
        return "sadness"
    if s & {"AU1", "AU2"}:
        return "surprise"
    return "others"


def au_region(aus: str) -> str:
    """The face region an AU combination moves (``brows``, ``eyes``, ``cheeks``, ``mouth``), first AU's."""
    return AU_LIBRARY[parse_aus(aus)[0]].region


def _subset(landmarks: np.ndarray) -> np.ndarray:
    """``(478, 2+)`` full landmarks -> ``(len(LANDMARK_IDS), 2) float32`` subset."""
    lm = np.asarray(landmarks, np.float32)
    if lm.ndim != 2 or lm.shape[0] < 468 or lm.shape[1] < 2:
        raise SynthError(f"landmarks must be (478, 2+) MediaPipe points, got shape {lm.shape}")
    return lm[list(LANDMARK_IDS), :2].copy()


def _pt(sub: np.ndarray, ids: Iterable[int]) -> np.ndarray:
    return sub[[_ROW[i] for i in ids]].mean(axis=0)


def face_frame(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(x_axis (2,), up (2,), width)`` of a face from its landmark subset (image pixels)."""
    x = sub[_ROW[_L_EYE_OUTER]] - sub[_ROW[_R_EYE_OUTER]]
    n = float(np.hypot(*x))
    if n < 1e-6:
        raise SynthError("degenerate landmarks: the eye corners coincide")
    x = x / n
    up = np.array([x[1], -x[0]], np.float32)
    width = float(np.hypot(*(sub[_ROW[_L_CHEEK_EDGE]] - sub[_ROW[_R_CHEEK_EDGE]])))
    return x.astype(np.float32), up, max(width, n)


MAX_GRADIENT = 0.75
"""Largest displacement slope a warp may reach (1 would fold the image). The steepest slope
of a Gaussian bump is ``0.607 * peak / sigma``, so an AU whose amplitude would exceed it gets
a wider falloff (``sigma >= 0.607 * peak / MAX_GRADIENT``): the asked amplitude is kept."""


@dataclass(frozen=True)
class _Control:
    centres: np.ndarray  # (C, 2) px
    disps: np.ndarray  # (C, 2) px
    x_axis: np.ndarray  # (2,)
    up: np.ndarray  # (2,)
    sigma: float  # px, along x_axis
    sigma_up: float  # px, along up


def _controls(sub: np.ndarray, aus: Sequence[str], amplitude: float) -> list[_Control]:
    """Per atomic AU: control centres and displacements in pixels, with the falloff."""
    xa, up, width = face_frame(sub)
    out = []
    for name in aus:
        au = AU_LIBRARY[name]
        amp = amplitude * au.gain * width
        # a large movement spreads further: widen the falloff rather than fold the image
        s_up = max(au.sigma_up * width, amp * 0.607 / MAX_GRADIENT)
        s_x = max(au.sigma * width, s_up)
        cs, ds = [], []
        for cp in au.points:
            for ids, medial_dir in ((cp.right, xa), (cp.left, -xa)):
                cs.append(_pt(sub, ids))
                ds.append(amp * (cp.up * up + cp.medial * medial_dir))
        for r, left in au.anchors:
            for ids in (r, left):
                cs.append(_pt(sub, ids))
                ds.append(np.zeros(2, np.float32))
        out.append(_Control(np.asarray(cs, np.float32), np.asarray(ds, np.float32), xa, up, s_x, s_up))
    return out


def displacement_field(
    sub: np.ndarray, aus: Sequence[str], amplitude: float, shape: tuple[int, int]
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The AU displacement field over its region of support.

    Each control point ``c`` weighs ``w_c = exp(-a^2 / 2 sx^2 - b^2 / 2 su^2)`` with ``a``,
    ``b`` the offsets along the face's x and up axes; per AU the field is
    ``2 sum_c w_c d_c / (1 + sum_c w_c)``, and the AUs' fields add up.

    Args:
        sub: ``(len(LANDMARK_IDS), 2)`` landmark subset of one face (pixels).
        aus: atomic AU names.
        amplitude: displacement at an isolated control point, fraction of the face width.
        shape: ``(H, W)`` of the frame.

    Returns:
        ``((x0, y0, x1, y1), d)`` with ``d`` the ``(y1 - y0, x1 - x0, 2) float32`` field in
        pixels (dx, dy) over that box, or None when the box is empty or the amplitude 0.
    """
    if amplitude <= 0:
        return None
    h, w = shape
    ctrl = _controls(sub, aus, amplitude)
    reach = [3.5 * max(c.sigma, c.sigma_up) for c in ctrl]
    lo = np.min([c.centres.min(0) - r for c, r in zip(ctrl, reach)], axis=0)
    hi = np.max([c.centres.max(0) + r for c, r in zip(ctrl, reach)], axis=0)
    x0, y0 = max(math.floor(lo[0]), 0), max(math.floor(lo[1]), 0)
    x1, y1 = min(math.ceil(hi[0]) + 1, w), min(math.ceil(hi[1]) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.zeros((y1 - y0, x1 - x0, 2), np.float32)
    for c in ctrl:
        num = np.zeros_like(d)
        den = np.zeros(d.shape[:2], np.float32)
        ix, iu = 1.0 / (2.0 * c.sigma**2), 1.0 / (2.0 * c.sigma_up**2)
        for centre, dc in zip(c.centres, c.disps):
            rx, ry = xs - centre[0], ys - centre[1]
            a = rx * c.x_axis[0] + ry * c.x_axis[1]
            b = rx * c.up[0] + ry * c.up[1]
            wgt = np.exp(-(a * a) * ix - (b * b) * iu)
            num += wgt[..., None] * dc
            den += wgt
        d += 2.0 * num / (1.0 + den)[..., None]
    return (x0, y0, x1, y1), d


def warp_subset(image: np.ndarray, sub: np.ndarray, aus: Sequence[str], amplitude: float) -> np.ndarray:
    """Warp one face of ``image`` (``(H, W, 3) uint8``) given its landmark subset; returns a new image."""
    res = displacement_field(sub, aus, amplitude, image.shape[:2])
    if res is None:
        return image
    (x0, y0, x1, y1), d = res
    mag = np.hypot(d[..., 0], d[..., 1])
    mask = mag >= 0.01
    if not mask.any():
        return image
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    warped = cv2.remap(
        image, xs - d[..., 0], ys - d[..., 1], interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    out = image.copy()
    roi = out[y0:y1, x0:x1]
    roi[mask] = warped[mask]
    return out


def warp_face(image: np.ndarray, landmarks: np.ndarray, au: str, amplitude: float) -> np.ndarray:
    """Apply an AU warp to one face at full strength.

    Args:
        image: ``(H, W, 3) uint8`` RGB frame.
        landmarks: ``(478, 2+)`` MediaPipe landmarks of the face, pixels.
        au: ``"AU12"``, ``"AU1+AU2"``, ...
        amplitude: displacement at a control point as a fraction of the face width (0.01 = 1 %).

    Returns:
        The warped ``(H, W, 3) uint8`` frame (a copy; pixels outside the field's support are unchanged).
    """
    return warp_subset(image, _subset(landmarks), parse_aus(au), amplitude)


def profile_weight(n: int, onset: int, apex_start: int, apex_end: int, offset: int) -> float:
    """Time profile at frame ``n``: 0 outside ``[onset, offset]``, raised-cosine rise to 1 at
    ``apex_start``, 1 until ``apex_end``, raised-cosine fall; > 0 on every frame of the interval."""
    if n < onset or n > offset:
        return 0.0
    if n < apex_start:
        u = (n - onset + 1) / (apex_start - onset + 1)
    elif n <= apex_end:
        return 1.0
    else:
        u = (offset - n + 1) / (offset - apex_end + 1)
    return float(0.5 - 0.5 * math.cos(math.pi * u))


# --------------------------------------------------------------------------------------
# Events, configuration, truth files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InjectedExpression:
    """One injected expression (frames of the output video, inclusive).

    Attributes:
        video: output video name (file stem), the CSV's ``video`` column.
        onset, apex, offset: frames; ``apex`` is the middle of the hold.
        apex_start, apex_end: first and last frame at full strength.
        kind: ``"me"`` or ``"mae"`` (by the 0.5 s rule on ``(offset - onset) / fps``).
        aus: ``"AU1+AU2"``.
        emotion: fine label (:func:`emotion_for`).
        amplitude: displacement at a control point, fraction of the face width.
        fps: frame rate of the video.
        face: which face (index left to right at the apex) for multi-face videos; 0 otherwise.
        subject: the CSV's ``subject`` column.
    """

    video: str
    onset: int
    apex: int
    offset: int
    apex_start: int
    apex_end: int
    kind: str
    aus: str
    emotion: str
    amplitude: float
    fps: float
    face: int = 0
    subject: str = "s1"

    @property
    def onset_s(self) -> float:
        return self.onset / self.fps

    @property
    def offset_s(self) -> float:
        return self.offset / self.fps

    @property
    def duration_s(self) -> float:
        """``(offset - onset) / fps``, the length the ME/MaE rule uses."""
        return (self.offset - self.onset) / self.fps

    def weight(self, n: int) -> float:
        """Profile weight at frame ``n``."""
        return profile_weight(n, self.onset, self.apex_start, self.apex_end, self.offset)

    def to_interval(self) -> Interval:
        return Interval(self.onset, self.offset, self.apex, self.kind, self.emotion)

    def row(self) -> dict[str, str | int]:
        return {
            "subject": self.subject,
            "video": self.video,
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "type": self.kind,
            "aus": self.aus,
            "emotion": self.emotion,
        }


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the injection benchmark (the difficulty knob).

    Attributes:
        seed: everything random (clips, times, AUs, amplitudes) derives from it.
        n_clips: GRID clips (3 s each) concatenated per video by :func:`make_benchmark`
            (:func:`build_injected_video` uses the clips it is given).
        n_micro, n_macro: events per video.
        amplitude: scales every event's amplitude (the difficulty knob; 0 injects nothing).
        micro_amplitude, macro_amplitude: displacement at amplitude 1, fraction of the face width.
        amplitude_jitter: each event's amplitude is multiplied by ``U(1 - j, 1 + j)``.
        micro_duration, macro_duration: ``(min, max)`` of ``(offset - onset) / fps`` in seconds;
            micro must end at or below 0.5 s and macro start above it (the ME/MaE rule).
        macro_hold: ``(min, max)`` share of a macro's duration held at the apex.
        min_gap: seconds between events (at least).
        cut_margin: frames kept free of events on each side of a clip cut.
        aus: AU combinations to draw from.
        crf: H.264 quality of the output (lower is closer to lossless).
        stabilize: warp each clip (similarity transform) so its first frames line up with
            the previous clip's last frames: the cuts then show no jump of the head, only
            what differs between the clips' faces (mouth, eyes, lighting).
        audio: keep the clips' audio (16 kHz mono AAC).
        subject: the CSV's ``subject`` column.
    """

    seed: int = 0
    n_clips: int = 6
    n_micro: int = 2
    n_macro: int = 2
    amplitude: float = 1.0
    micro_amplitude: float = 0.012
    macro_amplitude: float = 0.04
    amplitude_jitter: float = 0.2
    micro_duration: tuple[float, float] = (0.2, 0.5)
    macro_duration: tuple[float, float] = (0.6, 2.0)
    macro_hold: tuple[float, float] = (0.0, 0.4)
    min_gap: float = 0.5
    cut_margin: int = 3
    aus: tuple[str, ...] = DEFAULT_AUS
    crf: int = 18
    stabilize: bool = True
    audio: bool = True
    subject: str = "s1"

    def validate(self) -> None:
        """Raise :class:`ConfigError` for inconsistent settings."""
        if self.n_clips < 1 or self.n_micro < 0 or self.n_macro < 0:
            raise ConfigError("n_clips must be >= 1 and n_micro / n_macro >= 0")
        if self.amplitude < 0 or self.micro_amplitude < 0 or self.macro_amplitude < 0:
            raise ConfigError("amplitudes must be >= 0")
        if not 0 <= self.amplitude_jitter < 1:
            raise ConfigError("amplitude_jitter must be in [0, 1)")
        lo, hi = self.micro_duration
        if not 0 < lo <= hi <= 0.5:
            raise ConfigError(
                f"micro_duration {self.micro_duration} must lie in (0, 0.5] s (the ME/MaE boundary)"
            )
        lo, hi = self.macro_duration
        if not 0.5 < lo <= hi:
            raise ConfigError(
                f"macro_duration {self.macro_duration} must start above 0.5 s (the ME/MaE boundary)"
            )
        if not 0 <= self.macro_hold[0] <= self.macro_hold[1] < 1:
            raise ConfigError("macro_hold must be a (min, max) share in [0, 1)")
        if self.min_gap < 0 or self.cut_margin < 0 or not 0 <= self.crf <= 51:
            raise ConfigError("min_gap and cut_margin must be >= 0 and crf in 0..51")
        for a in self.aus:
            parse_aus(a)
        if not self.aus:
            raise ConfigError("aus must name at least one AU combination")

    def key(self) -> str:
        """A short hash of the settings (and :data:`SYNTH_VERSION`), for caches."""
        blob = json.dumps({"v": SYNTH_VERSION, **asdict(self)}, sort_keys=True, default=list)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def write_truth_csv(path: str | os.PathLike[str], events: Iterable[InjectedExpression]) -> Path:
    """Write events as a MEGC-style CSV (:data:`TRUTH_COLUMNS`), atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(TRUTH_COLUMNS), lineterminator="\n")
    w.writeheader()
    for e in events:
        w.writerow(e.row())
    return atomic_write_text(Path(path), buf.getvalue())


def _frame_cell(row: dict[str, str], name: str, where: str, *, optional: bool = False) -> int | None:
    v = row.get(name, "")
    if optional and v.lower() in ("", "-", "-1", "na", "nan", "none"):
        return None
    try:
        f = float(v)
    except ValueError:
        raise TruthFormatError(f"{where}: {name} {v!r} is not a frame number") from None
    if not f.is_integer() or f < 0:
        raise TruthFormatError(f"{where}: {name} {v!r} is not a whole frame number >= 0")
    return int(f)


def read_truth_csv(path: str | os.PathLike[str]) -> dict[str, list[Interval]]:
    """Read a MEGC-style truth CSV into ``{video: [Interval, ...]}`` (sorted by onset).

    Required columns: ``video``, ``onset``, ``offset``; optional ``apex`` (empty, ``-``,
    ``-1``, or ``0`` with a later onset, for none), ``type`` (``me``/``mae``/``micro``/``macro``;
    empty: classed by length later),
    ``emotion``, ``subject``, ``aus``. Raises :class:`TruthFormatError` naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise TruthFormatError(f"{p}: no such truth file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TruthFormatError(f"{p}: cannot be read as UTF-8 text ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in ("video", "onset", "offset") if c not in cols]
    if missing:
        raise TruthFormatError(
            f"{p}: missing column(s) {', '.join(missing)}; expected a header like {','.join(TRUTH_COLUMNS)}"
        )
    out: dict[str, list[Interval]] = {}
    for lineno, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise TruthFormatError(f"{p}, line {lineno}: more fields than the header has")
        if not any(row.values()):
            continue
        video = row.get("video", "")
        if not video:
            raise TruthFormatError(f"{p}, line {lineno}: empty video name")

        where = f"{p}, line {lineno}"
        onset, offset = _frame_cell(row, "onset", where), _frame_cell(row, "offset", where)
        apex = _frame_cell(row, "apex", where, optional=True)
        assert onset is not None and offset is not None
        if offset < onset:
            raise TruthFormatError(f"{where}: offset {offset} is before onset {onset}")
        if apex == 0 and onset > 0:
            apex = None  # MEGC tables write 0 for "apex not annotated"
        if apex is not None and not onset <= apex <= offset:
            raise TruthFormatError(f"{where}: apex {apex} is outside [{onset}, {offset}]")
        try:
            iv = Interval(onset, offset, apex, row.get("type") or None, row.get("emotion") or None)
        except AffectkitError as exc:
            raise TruthFormatError(f"{where}: {exc}") from None
        out.setdefault(video, []).append(iv)
    for v in out.values():
        v.sort(key=lambda iv: (iv.onset, iv.offset))
    return out


# --------------------------------------------------------------------------------------
# Landmarks of the original clips
# --------------------------------------------------------------------------------------


def _file_hash(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _fill_and_smooth(sub: np.ndarray, ok: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Fill frames without a face from the nearest detected frame, then smooth over time.

    ``sub``: ``(T, K, 2)``; ``ok``: ``(T,) bool``.
    """
    from scipy.ndimage import gaussian_filter1d

    idx = np.flatnonzero(ok)
    t = np.arange(len(ok))
    nearest = idx[np.clip(np.searchsorted(idx, t), 0, len(idx) - 1)]
    prev = idx[np.clip(np.searchsorted(idx, t) - 1, 0, len(idx) - 1)]
    nearest = np.where(np.abs(prev - t) < np.abs(nearest - t), prev, nearest)
    filled = sub[nearest]
    if sigma > 0 and len(ok) > 1:
        filled = gaussian_filter1d(filled, sigma, axis=0, mode="nearest")
    return filled.astype(np.float32)


def clip_landmarks(
    clip: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Landmark subset per frame of a single-face clip, filled and smoothed.

    Returns:
        ``(sub (T, len(LANDMARK_IDS), 2) float32, fps, (H, W))``. Cached in ``cache_dir``
        under the file's content hash when given.
    """
    from ..face.landmarks import FaceLandmarker
    from ..media import iter_frame_list, probe, require_video

    p = Path(clip)
    cache: Path | None = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{p.stem}-{_file_hash(p)}-v{SYNTH_VERSION}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                return z["sub"], float(z["fps"]), (int(z["shape"][0]), int(z["shape"][1]))
    info = probe(p)
    require_video(info)
    subs: list[np.ndarray] = []
    oks: list[bool] = []
    with FaceLandmarker(max_faces=1) as lm:
        for _, t, img in iter_frame_list(p):
            faces = lm.detect(img, t)
            if faces:
                f = max(faces, key=lambda o: o.size)
                subs.append(_subset(f.landmarks))
                oks.append(True)
            else:
                subs.append(np.zeros((len(LANDMARK_IDS), 2), np.float32))
                oks.append(False)
    ok = np.asarray(oks, bool)
    if not ok.any():
        raise SynthError(f"{p}: no face found in any frame; the benchmark needs one frontal face per clip")
    if (~ok).sum():
        log.warning(
            "%s: no face in %d of %d frames; using the nearest frame's landmarks", p, (~ok).sum(), len(ok)
        )
    sub = _fill_and_smooth(np.stack(subs), ok)
    shape = (info.height, info.width)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, sub=sub, fps=info.fps, shape=np.array(shape))
        os.replace(tmp, cache)
    return sub, float(info.fps), shape


# --------------------------------------------------------------------------------------
# Placing events
# --------------------------------------------------------------------------------------


def _frames_range(seconds: tuple[float, float], fps: float) -> tuple[int, int]:
    lo = math.ceil(seconds[0] * fps - 1e-9)
    hi = math.floor(seconds[1] * fps + 1e-9)
    if hi < lo:
        raise ConfigError(f"duration range {seconds} s holds no whole number of frames at {fps:g} fps")
    return max(lo, 1), hi


def plan_events(
    clip_frames: Sequence[int], fps: float, config: SynthConfig, rng: np.random.Generator, video: str
) -> list[InjectedExpression]:
    """Draw non-overlapping events inside clips (never across a cut).

    Args:
        clip_frames: number of frames of each concatenated clip, in order.
        fps: frame rate.
        config: the settings (durations, counts, gaps, amplitudes, AUs).
        rng: the random generator (consumed in a fixed order, so the plan does not depend on
            the amplitude scale).
        video: name written into the events.

    Returns:
        Events sorted by onset.
    """
    starts = np.concatenate([[0], np.cumsum(clip_frames)[:-1]]).astype(int)
    gap = math.ceil(config.min_gap * fps)
    m = config.cut_margin
    kinds = ["mae"] * config.n_macro + ["me"] * config.n_micro  # long ones first: hardest to place
    taken: list[tuple[int, int]] = []
    events: list[InjectedExpression] = []
    for kind in kinds:
        span_lo, span_hi = _frames_range(
            config.micro_duration if kind == "me" else config.macro_duration, fps
        )
        span = int(rng.integers(span_lo, span_hi + 1))  # offset - onset
        aus = config.aus[int(rng.integers(len(config.aus)))]
        jitter = float(rng.uniform(1 - config.amplitude_jitter, 1 + config.amplitude_jitter))
        hold_share = float(rng.uniform(*config.macro_hold)) if kind == "mae" else 0.0
        rise_share = float(rng.uniform(0.35, 0.65))
        fits = [c for c, n in enumerate(clip_frames) if n - 2 * m - 1 >= span]
        if not fits:
            raise SynthError(
                f"a {kind} of {span / fps:.2f} s does not fit in any clip (clips of {min(clip_frames)}-"
                f"{max(clip_frames)} frames, {m} frames kept free at each cut); shorten macro_duration"
            )
        for _ in range(500):
            c = fits[int(rng.integers(len(fits)))]
            onset = int(starts[c] + m + rng.integers(0, clip_frames[c] - 2 * m - span))
            offset = onset + span
            if all(offset + gap < a or onset > b + gap for a, b in taken):
                break
        else:
            raise SynthError(
                f"cannot place {config.n_micro} micro + {config.n_macro} macro events in "
                f"{len(clip_frames)} clips with {config.min_gap} s gaps; use more clips or fewer events"
            )
        taken.append((onset, offset))
        hold = round(hold_share * span)
        rise = max(1, round(rise_share * (span - hold))) if span > hold else 0
        apex_start = min(onset + rise, offset)
        apex_end = min(apex_start + hold, offset)
        apex = (apex_start + apex_end) // 2
        base = config.micro_amplitude if kind == "me" else config.macro_amplitude
        kind_by_len = classify_kind(onset, offset, fps)
        assert kind_by_len == kind, (kind, span)
        events.append(
            InjectedExpression(
                video=video,
                onset=onset,
                apex=apex,
                offset=offset,
                apex_start=apex_start,
                apex_end=apex_end,
                kind=kind,
                aus=aus,
                emotion=emotion_for(aus),
                amplitude=base * config.amplitude * jitter,
                fps=fps,
                subject=config.subject,
            )
        )
    return sorted(events, key=lambda e: e.onset)


# --------------------------------------------------------------------------------------
# Building videos
# --------------------------------------------------------------------------------------


def _clip_audio(path: Path, n_frames: int, fps: float) -> np.ndarray:
    from ..media import AUDIO_RATE, NoAudioError, read_audio

    n = round(n_frames / fps * AUDIO_RATE)
    try:
        a = read_audio(path)
    except NoAudioError:
        a = np.zeros(0, np.float32)
    if a.size >= n:
        return a[:n]
    return np.concatenate([a, np.zeros(n - a.size, np.float32)])


def _render(
    frames: Iterator[tuple[int, np.ndarray]], subs: dict[int, Sequence[tuple[InjectedExpression, np.ndarray]]]
) -> Iterator[np.ndarray]:
    """Apply each active event's warp to the frames (``subs``: frame -> [(event, landmark subset)])."""
    for n, img in frames:
        for ev, sub in subs.get(n, ()):
            wgt = ev.weight(n)
            if wgt > 0:
                img = warp_subset(img, sub, parse_aus(ev.aus), ev.amplitude * wgt)
        yield img


@dataclass
class InjectionPlan:
    """Clips, events and per-frame landmarks of one injected video, ready to render.

    Attributes:
        clips: the source clips in order.
        counts: frames per clip.
        fps: frame rate.
        size: ``(width, height)``.
        events: the planned events, sorted by onset.
        landmarks: ``(T, len(LANDMARK_IDS), 2) float32`` landmark subset of every output
            frame (small: a few landmarks per frame), after stabilisation.
        transforms: ``(2, 3)`` similarity per clip, source pixels -> output pixels.
    """

    clips: list[Path]
    counts: list[int]
    fps: float
    size: tuple[int, int]
    events: list[InjectedExpression]
    landmarks: np.ndarray
    transforms: list[np.ndarray]

    @property
    def n_frames(self) -> int:
        return int(sum(self.counts))

    def _originals(self) -> Iterator[tuple[int, np.ndarray]]:
        from ..media import iter_frame_list

        start = 0
        for clip, cnt, m in zip(self.clips, self.counts, self.transforms):
            identity = np.allclose(m, np.eye(2, 3), atol=1e-6)
            k = -1
            for k, (_, _, img) in enumerate(iter_frame_list(clip)):
                if k >= cnt:  # a clip that decodes to more frames than on the first pass
                    break
                if not identity:
                    img = cv2.warpAffine(
                        img,
                        m.astype(np.float32),
                        self.size,
                        flags=cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REPLICATE,
                    )
                yield start + k, img
            if k + 1 < cnt:
                raise SynthError(f"{clip}: decoded {k + 1} frames, expected {cnt}")
            start += cnt

    def frames(self, *, inject: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """Stream ``(frame index, (H, W, 3) uint8 RGB)`` of the concatenated video, with the
        expressions injected (or the plain concatenation with ``inject=False``)."""
        if not inject:
            yield from self._originals()
            return
        per_frame: dict[int, list[tuple[InjectedExpression, np.ndarray]]] = {}
        for ev in self.events:
            for n in range(ev.onset, ev.offset + 1):
                per_frame.setdefault(n, []).append((ev, self.landmarks[n]))
        originals = self._originals()
        for n, img in zip(range(self.n_frames), _render(originals, per_frame)):
            yield n, img


def plan_injected_video(
    clip_paths: Sequence[str | os.PathLike[str]],
    config: SynthConfig = SynthConfig(),
    *,
    video: str = "synth",
    landmark_cache: str | os.PathLike[str] | None = None,
) -> InjectionPlan:
    """Landmark the clips and draw the events (``config.seed`` decides everything); renders nothing."""
    config.validate()
    clips = [Path(c) for c in clip_paths]
    if not clips:
        raise SynthError("no clips given")
    lms, fpss, shapes = zip(*(clip_landmarks(c, cache_dir=landmark_cache) for c in clips))
    if len(set(shapes)) != 1 or max(fpss) - min(fpss) > 1e-3:
        raise SynthError(
            "the clips differ in frame size or rate ("
            + ", ".join(f"{c.name}: {s[1]}x{s[0]} @ {f:g}" for c, s, f in zip(clips, shapes, fpss))
            + "); use clips of one recording setup"
        )
    fps, (h, w) = float(fpss[0]), shapes[0]
    counts = [len(x) for x in lms]
    rng = np.random.default_rng(config.seed)
    events = plan_events(counts, fps, config, rng, video)
    transforms = _stabilizing_transforms(list(lms)) if config.stabilize else [np.eye(2, 3) for _ in lms]
    moved = [x @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32) for x, m in zip(lms, transforms)]
    return InjectionPlan(clips, counts, fps, (w, h), events, np.concatenate(moved), transforms)


def _stabilizing_transforms(lms: list[np.ndarray], n: int = 3) -> list[np.ndarray]:
    """Similarity per clip so each clip's first ``n`` frames match the previous clip's last
    ``n`` frames (rigid landmarks, medians), then one common shift that puts the mean face
    centre back where the first clip has it. ``lms``: per clip ``(T, K, 2)``."""
    from ..face.align import similarity_from_points

    rows = [_ROW[i] for i in _RIGID]
    out = [np.eye(2, 3)]
    for prev, cur in zip(lms[:-1], lms[1:]):
        m_prev = out[-1]
        last = np.median(prev[-n:, rows], axis=0) @ m_prev[:, :2].T + m_prev[:, 2]
        first = np.median(cur[:n, rows], axis=0)
        out.append(similarity_from_points(first, last))
    centre0 = np.median(lms[0][:, rows].reshape(-1, 2), axis=0)
    centres = [np.median(x[:, rows].reshape(-1, 2), axis=0) @ m[:, :2].T + m[:, 2] for x, m in zip(lms, out)]
    shift = centre0 - np.average(centres, axis=0, weights=[len(x) for x in lms])
    for m in out:
        m[:, 2] += shift
    return out


def build_injected_video(
    clip_paths: Sequence[str | os.PathLike[str]],
    out_video: str | os.PathLike[str],
    out_csv: str | os.PathLike[str] | None,
    config: SynthConfig = SynthConfig(),
    *,
    landmark_cache: str | os.PathLike[str] | None = None,
) -> list[InjectedExpression]:
    """Concatenate single-face clips, inject expressions, write the MP4 and its truth CSV.

    Args:
        clip_paths: the clips, in order (same frame size and rate; GRID: 360x288, 25 fps, 3 s).
        out_video: the output MP4 (H.264 at ``config.crf``, written atomically; audio 16 kHz
            mono AAC when ``config.audio``).
        out_csv: the truth CSV (:data:`TRUTH_COLUMNS`), or None.
        config: the settings; ``config.seed`` alone decides placements, AUs and amplitudes,
            so two configs differing only in ``amplitude`` place the same events.
        landmark_cache: folder to cache the clips' landmarks in (by content hash).

    Returns:
        The injected events, sorted by onset (frames of ``out_video``).
    """
    from ..media import AUDIO_RATE, VideoWriter

    out_video = Path(out_video)
    plan = plan_injected_video(clip_paths, config, video=out_video.stem, landmark_cache=landmark_cache)
    w, h = plan.size
    audio_rate = AUDIO_RATE if config.audio else None
    with VideoWriter(out_video, w, h, plan.fps, crf=config.crf, audio_rate=audio_rate) as vw:
        for _, img in plan.frames():
            vw.write(img)
        if config.audio:
            audio = [_clip_audio(c, n, plan.fps) for c, n in zip(plan.clips, plan.counts)]
            vw.write_audio(np.concatenate(audio), AUDIO_RATE)
    if out_csv is not None:
        write_truth_csv(out_csv, plan.events)
    ev = plan.events
    log.info(
        "%s: %d frames, %d events (%d ME, %d MaE)",
        out_video.name,
        plan.n_frames,
        len(ev),
        sum(e.kind == "me" for e in ev),
        sum(e.kind == "mae" for e in ev),
    )
    return ev


def grid_clips(grid_dir: str | os.PathLike[str]) -> list[Path]:
    """The ``*.mpg`` clips of a GRID speaker folder (``grid_s1`` or its ``video/`` subfolder), sorted."""
    d = Path(grid_dir)
    if (d / "video").is_dir():
        d = d / "video"
    clips = sorted(d.glob("*.mpg"))
    if not clips:
        raise SynthError(f"no GRID clips (*.mpg) under {grid_dir}; point --grid at e.g. shared/data/grid_s1")
    return clips


def same_session_clips(clips: Sequence[Path], *, tolerance: float = 20.0) -> list[Path]:
    """The clips recorded in the main session: background colour (top-left patch of the
    first frame) within ``tolerance`` (RGB distance) of the median clip's.

    GRID speakers were recorded in several sessions (other shirt, lighting, background);
    a cut between sessions is a jump of the whole picture that no real conversation has.
    """
    from ..media import frames_at

    if len(clips) < 3:
        return list(clips)
    colours = []
    for c in clips:
        img = frames_at(c, [0.0]).get(0.0)
        if img is None:
            raise SynthError(f"{c}: no frame could be decoded")
        h, w = img.shape[:2]
        colours.append(img[h // 14 : h // 5, w // 18 : w // 4].reshape(-1, 3).mean(0))
    cols = np.asarray(colours)
    ref = np.median(cols, axis=0)
    keep = [c for c, col in zip(clips, cols) if float(np.linalg.norm(col - ref)) <= tolerance]
    dropped = sorted(set(map(str, clips)) - set(map(str, keep)))
    if dropped:
        log.info(
            "leaving out %d clip(s) from another recording session: %s",
            len(dropped),
            ", ".join(Path(x).name for x in dropped),
        )
    return keep


def make_benchmark(
    grid_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    n_videos: int,
    config: SynthConfig = SynthConfig(),
    *,
    landmark_cache: str | os.PathLike[str] | None = None,
) -> list[tuple[Path, Path]]:
    """Build ``n_videos`` injected videos (``synth_000.mp4`` + ``synth_000.csv`` ...) and ``truth.csv``.

    Clips of the main recording session (:func:`same_session_clips`) are dealt to videos
    from a seed-shuffled list (a clip repeats only after all were used). Video ``i`` uses seed
    ``(config.seed, i)``. A video whose sidecar ``synth_XXX.json`` records the same settings
    and clips is reused, not rebuilt.

    Args:
        grid_dir: GRID speaker folder (``.../grid_s1``).
        out_dir: output folder (created).
        n_videos: number of videos.
        config: the settings (same for every video but the seed).
        landmark_cache: where to cache clip landmarks (default ``out_dir/landmarks``).

    Returns:
        ``[(video_path, csv_path), ...]``.
    """
    config.validate()
    if n_videos < 1:
        raise ConfigError("n_videos must be >= 1")
    clips = same_session_clips(grid_clips(grid_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(landmark_cache) if landmark_cache is not None else out / "landmarks"
    order_rng = np.random.default_rng([config.seed, 7919])
    deck: list[Path] = []
    results: list[tuple[Path, Path]] = []
    all_rows: list[InjectedExpression] = []
    for i in range(n_videos):
        chosen: list[Path] = []
        while len(chosen) < config.n_clips:
            if not deck:
                deck = [clips[j] for j in order_rng.permutation(len(clips))]
            c = deck.pop()
            if c not in chosen or len(clips) < config.n_clips:
                chosen.append(c)
        vcfg = replace(config, seed=int(np.random.SeedSequence([config.seed, i]).generate_state(1)[0]))
        video, table, side = (
            out / f"synth_{i:03d}.mp4",
            out / f"synth_{i:03d}.csv",
            out / f"synth_{i:03d}.json",
        )
        meta = {"version": SYNTH_VERSION, "config": asdict(vcfg), "clips": [c.name for c in chosen]}
        events = _cached_events(video, table, side, meta)
        if events is None:
            events = build_injected_video(chosen, video, table, vcfg, landmark_cache=cache)
            meta["events"] = [asdict(e) for e in events]
            atomic_write_text(side, json.dumps(meta, sort_keys=True, default=list))
        else:
            log.info("%s: cached", video.name)
        all_rows.extend(events)
        results.append((video, table))
    write_truth_csv(out / "truth.csv", all_rows)
    return results


def _cached_events(video: Path, table: Path, side: Path, meta: dict) -> list[InjectedExpression] | None:
    """The events of an already built video when its sidecar records the same settings and clips."""
    if not (video.is_file() and table.is_file() and side.is_file()):
        return None
    try:
        old = json.loads(side.read_text())
        same = json.dumps({k: old.get(k) for k in meta}, sort_keys=True, default=list) == json.dumps(
            meta, sort_keys=True, default=list
        )
        return [InjectedExpression(**e) for e in old["events"]] if same else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------------------
# Injecting into an arbitrary (multi-face) video
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpressionSpec:
    """An expression to inject into a given video.

    Attributes:
        face: which face: an ``int`` is the index among the faces sorted by their centre's x
            (0 = leftmost); a ``(x0, x1)`` pair picks the face whose centre lies in that span of
            the frame width (fractions 0-1, e.g. ``(0.5, 1.0)`` for the right half).
        onset_s, apex_s, offset_s: times in seconds (``onset_s < apex_s <= offset_s``).
        au: ``"AU12"``, ``"AU1+AU2"``, ``"AU6+AU12"``...
        amplitude: displacement at a control point, fraction of the face width
            (about 0.01 for a micro-expression, 0.03-0.05 for a macro-expression).
        hold_s: seconds held at full strength from the apex on (default 0).
    """

    face: int | tuple[float, float]
    onset_s: float
    apex_s: float
    offset_s: float
    au: str
    amplitude: float
    hold_s: float = 0.0

    def validate(self) -> None:
        parse_aus(self.au)
        if not (0 <= self.onset_s < self.apex_s <= self.offset_s):
            raise ConfigError(
                f"expression times must satisfy 0 <= onset < apex <= offset, got "
                f"{self.onset_s}, {self.apex_s}, {self.offset_s}"
            )
        if self.hold_s < 0 or self.apex_s + self.hold_s > self.offset_s + 1e-9:
            raise ConfigError("hold_s must be >= 0 and end by offset_s")
        if self.amplitude < 0:
            raise ConfigError("amplitude must be >= 0")
        if isinstance(self.face, tuple):
            if len(self.face) != 2 or not 0 <= self.face[0] < self.face[1] <= 1:
                raise ConfigError("a face span is (x0, x1) with 0 <= x0 < x1 <= 1 (fractions of the width)")
        elif int(self.face) < 0:
            raise ConfigError("a face index must be >= 0 (0 = leftmost face)")


def _pick_face(faces: list, spec: ExpressionSpec, width: int):
    if not faces:
        return None, -1
    order = sorted(range(len(faces)), key=lambda k: float(faces[k].center[0]))
    if isinstance(spec.face, tuple):
        x0, x1 = spec.face[0] * width, spec.face[1] * width
        inside = [k for k in order if x0 <= float(faces[k].center[0]) <= x1]
        if not inside:
            return None, -1
        mid = (x0 + x1) / 2
        k = min(inside, key=lambda j: abs(float(faces[j].center[0]) - mid))
        return faces[k], order.index(k)
    idx = int(spec.face)
    if idx >= len(order):
        return None, -1
    return faces[order[idx]], idx


def inject_into_video(
    in_video: str | os.PathLike[str],
    out_video: str | os.PathLike[str],
    expressions: Sequence[ExpressionSpec],
    *,
    out_csv: str | os.PathLike[str] | None = None,
    crf: int = 18,
    max_faces: int = 4,
    subject: str = "",
) -> list[InjectedExpression]:
    """Inject expressions into chosen faces of any video (e.g. two people side by side).

    Two streaming passes: landmarks of every face in the frames each expression covers
    (the chosen face's few control landmarks are kept, smoothed over time), then warping and
    H.264 encoding; the audio track is copied (16 kHz mono) when there is one.

    Args:
        in_video: source video.
        out_video: output MP4 (atomic).
        expressions: what to inject where (:class:`ExpressionSpec`).
        out_csv: optional truth CSV (frames of the output video).
        crf: H.264 quality.
        max_faces: faces detected per frame.
        subject: the CSV's ``subject`` column.

    Returns:
        The injected events in frames, sorted by onset. Raises :class:`SynthError` when the
        chosen face is not found in any frame of an expression.
    """
    from ..face.landmarks import FaceLandmarker
    from ..media import AUDIO_RATE, VideoWriter, iter_frame_list, probe, read_audio, require_video

    for s in expressions:
        s.validate()
    info = probe(in_video)
    require_video(info)
    fps = float(info.fps) or 25.0
    specs = list(expressions)
    # pass 1: frame times and the chosen face's landmarks inside each expression
    spans: list[tuple[int, int, int, int]] = []  # onset, apex_start, apex_end, offset (frames)
    times: list[float] = []
    subs: list[dict[int, np.ndarray]] = [{} for _ in specs]
    face_idx: list[list[int]] = [[] for _ in specs]

    def frame_of(t: float) -> int:
        return round(t * fps)

    for s in specs:
        on, ap, off = frame_of(s.onset_s), frame_of(s.apex_s), frame_of(s.offset_s)
        ap_end = min(frame_of(s.apex_s + s.hold_s), off)
        spans.append((on, max(ap, on), max(ap_end, ap), max(off, ap_end)))
    need_lo = min((sp[0] for sp in spans), default=0)
    need_hi = max((sp[3] for sp in spans), default=-1)
    with FaceLandmarker(max_faces=max_faces) as lm:
        for n, t, img in iter_frame_list(in_video):
            times.append(t)
            if not need_lo <= n <= need_hi:
                continue
            faces = None
            for k, (s, sp) in enumerate(zip(specs, spans)):
                if sp[0] <= n <= sp[3]:
                    if faces is None:
                        faces = lm.detect(img, t)
                    f, idx = _pick_face(faces, s, img.shape[1])
                    if f is not None:
                        subs[k][n] = _subset(f.landmarks)
                        face_idx[k].append(idx)
    n_frames = len(times)
    events: list[InjectedExpression] = []
    per_frame: dict[int, list[tuple[InjectedExpression, np.ndarray]]] = {}
    for k, (s, (on, a0, a1, off)) in enumerate(zip(specs, spans)):
        if off >= n_frames:
            raise SynthError(
                f"expression {k} ends at {s.offset_s} s, after the video's end ({n_frames / fps:.2f} s)"
            )
        if not subs[k]:
            raise SynthError(
                f"expression {k} ({s.au} at {s.onset_s}-{s.offset_s} s): face {s.face!r} was not found "
                "in any of its frames; check the face index / x span"
            )
        frames_k = np.arange(on, off + 1)
        ok = np.array([n in subs[k] for n in frames_k])
        raw = np.stack([subs[k].get(int(n), np.zeros((len(LANDMARK_IDS), 2), np.float32)) for n in frames_k])
        track = _fill_and_smooth(raw, ok)
        ev = InjectedExpression(
            video=Path(out_video).stem,
            onset=on,
            apex=(a0 + a1) // 2,
            offset=off,
            apex_start=a0,
            apex_end=a1,
            kind=classify_kind(on, off, fps),
            aus="+".join(parse_aus(s.au)),
            emotion=emotion_for(s.au),
            amplitude=float(s.amplitude),
            fps=fps,
            face=int(np.bincount(face_idx[k]).argmax()),
            subject=subject,
        )
        events.append(ev)
        for j, n in enumerate(frames_k):
            per_frame.setdefault(int(n), []).append((ev, track[j]))
    # pass 2: warp and encode
    with VideoWriter(
        out_video, info.width, info.height, fps, crf=crf, audio_rate=AUDIO_RATE if info.has_audio else None
    ) as vw:
        for img in _render(((n, im) for n, _, im in iter_frame_list(in_video)), per_frame):
            vw.write(img)
        if info.has_audio:
            vw.write_audio(read_audio(in_video), AUDIO_RATE)
    events.sort(key=lambda e: e.onset)
    if out_csv is not None:
        write_truth_csv(out_csv, events)
    return events


__all__ = [
    "AU_LIBRARY",
    "COARSE_EMOTION",
    "DEFAULT_AUS",
    "LANDMARK_IDS",
    "TRUTH_COLUMNS",
    "AUWarp",
    "ControlPoint",
    "ExpressionSpec",
    "InjectedExpression",
    "InjectionPlan",
    "SynthConfig",
    "SynthError",
    "TruthFormatError",
    "au_region",
    "build_injected_video",
    "clip_landmarks",
    "displacement_field",
    "emotion_for",
    "face_frame",
    "grid_clips",
    "inject_into_video",
    "make_benchmark",
    "parse_aus",
    "plan_events",
    "plan_injected_video",
    "profile_weight",
    "read_truth_csv",
    "same_session_clips",
    "warp_face",
    "warp_subset",
    "write_truth_csv",
]
