"""Blendshapes -> FACS action units, an EMFACS-style emotion estimate, head pose, blinks.

Mapping table (MediaPipe blendshape, ARKit naming -> FACS action unit). MediaPipe's
blendshapes are the best AU signal available offline; the mapping follows the usual
ARKit-to-FACS correspondences and is an approximation: blendshapes describe surface shape,
AUs describe muscles.

| AU | name | blendshapes (mean of the listed ones; Left/Right give the sides) |
|---|---|---|
| AU1 | inner brow raiser | browInnerUp |
| AU2 | outer brow raiser | browOuterUpLeft, browOuterUpRight |
| AU4 | brow lowerer | browDownLeft, browDownRight |
| AU5 | upper lid raiser | eyeWideLeft, eyeWideRight |
| AU6 | cheek raiser | max(cheekSquint, eyeSquint x smile gate) (see below) |
| AU7 | lid tightener | eyeSquint x (1 - smile gate / 2) |
| AU9 | nose wrinkler | noseSneerLeft, noseSneerRight |
| AU10 | upper lip raiser | mouthUpperUpLeft, mouthUpperUpRight |
| AU12 | lip corner puller | mouthSmileLeft, mouthSmileRight |
| AU14 | dimpler | mouthDimpleLeft, mouthDimpleRight |
| AU15 | lip corner depressor | mouthFrownLeft, mouthFrownRight |
| AU17 | chin raiser | mouthShrugLower |
| AU18 | lip pucker | mouthPucker |
| AU20 | lip stretcher | mouthStretchLeft, mouthStretchRight |
| AU22 | lip funneler | mouthFunnel |
| AU23 | lip tightener | mouthRollLower, mouthRollUpper |
| AU24 | lip pressor | mouthPressLeft, mouthPressRight |
| AU25 | lips part | geometry: inner-lip gap / mouth width (landmarks 13, 14, 78, 308) |
| AU26 | jaw drop | jawOpen |
| AU45 | blink | eyeBlinkLeft, eyeBlinkRight |

MediaPipe's ``cheekSquint`` blendshapes stay near zero even in broad smiles, so AU6 also
takes the eye squint seen together with a smile (the Duchenne marker): with
``gate = clip(mean mouthSmile / 0.5, 0, 1)``, AU6 = max(cheekSquint, eyeSquint x gate) and AU7
= eyeSquint x (1 - gate / 2): a squint without a smile is lid tightening.

Emotion rules (EMFACS-7 prototypes after Friesen & Ekman, 1983, as summarised in the FACS
Investigator's Guide): happiness AU6+AU12; sadness AU1+AU4+AU15; surprise AU1+AU2+AU5+AU26;
fear AU1+AU2+AU4+AU5+AU7+AU20+AU26; anger AU4+AU5+AU7+AU23; disgust AU9+AU10+AU15 (AU9 or
AU10 with AU15/AU17 in EMFACS); contempt: one-sided AU12/AU14 (the stronger side at least
0.15 above the other, the weaker below 0.4) without cheek raise. Each AU counts as "on" to the
degree its intensity reaches its reference level (:data:`AU_ON_LEVEL`); a prototype scores the
mean of its AUs' degrees times the weakest one's (a soft AND). Neutral is 1 minus the best score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .landmarks import BLENDSHAPE_INDEX

AU_TABLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("AU1", "inner brow raiser", ("browInnerUp",)),
    ("AU2", "outer brow raiser", ("browOuterUpLeft", "browOuterUpRight")),
    ("AU4", "brow lowerer", ("browDownLeft", "browDownRight")),
    ("AU5", "upper lid raiser", ("eyeWideLeft", "eyeWideRight")),
    ("AU6", "cheek raiser", ("cheekSquintLeft", "cheekSquintRight")),  # + squint in a smile, below
    ("AU7", "lid tightener", ("eyeSquintLeft", "eyeSquintRight")),  # x (1 - smile gate / 2), below
    ("AU9", "nose wrinkler", ("noseSneerLeft", "noseSneerRight")),
    ("AU10", "upper lip raiser", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    ("AU12", "lip corner puller", ("mouthSmileLeft", "mouthSmileRight")),
    ("AU14", "dimpler", ("mouthDimpleLeft", "mouthDimpleRight")),
    ("AU15", "lip corner depressor", ("mouthFrownLeft", "mouthFrownRight")),
    ("AU17", "chin raiser", ("mouthShrugLower",)),
    ("AU18", "lip pucker", ("mouthPucker",)),
    ("AU20", "lip stretcher", ("mouthStretchLeft", "mouthStretchRight")),
    ("AU22", "lip funneler", ("mouthFunnel",)),
    ("AU23", "lip tightener", ("mouthRollLower", "mouthRollUpper")),
    ("AU24", "lip pressor", ("mouthPressLeft", "mouthPressRight")),
    ("AU25", "lips part", ()),
    ("AU26", "jaw drop", ("jawOpen",)),
    ("AU45", "blink", ("eyeBlinkLeft", "eyeBlinkRight")),
)
AU_NAMES: tuple[str, ...] = tuple(a for a, _, _ in AU_TABLE)
AU_INDEX = {a: i for i, a in enumerate(AU_NAMES)}
AU_DESCRIPTIONS = {a: d for a, d, _ in AU_TABLE}

AU_ON_LEVEL: dict[str, float] = {
    "AU1": 0.30, "AU2": 0.30, "AU4": 0.35, "AU5": 0.30, "AU6": 0.30, "AU7": 0.45, "AU9": 0.25, "AU10": 0.25,
    "AU12": 0.40, "AU14": 0.30, "AU15": 0.20, "AU17": 0.35, "AU18": 0.40, "AU20": 0.20, "AU22": 0.30,
    "AU23": 0.30, "AU24": 0.30, "AU25": 0.40, "AU26": 0.30, "AU45": 0.50,
}  # fmt: skip
"""Intensity at which an AU counts as fully on for the emotion rules."""

EMOTIONS: tuple[str, ...] = ("neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt")
EMOTION_RULES: dict[str, tuple[str, ...]] = {
    "happiness": ("AU6", "AU12"),
    "sadness": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"),
    "anger": ("AU4", "AU5", "AU7", "AU23"),
    "disgust": ("AU9", "AU10", "AU15"),
}
EMOTION_RULE_SOURCE = "EMFACS-7 prototypes (Friesen & Ekman 1983) over blendshape AUs"

# landmark indices for geometric AUs
_UPPER_INNER_LIP, _LOWER_INNER_LIP, _MOUTH_IN_R, _MOUTH_IN_L = 13, 14, 78, 308


def _bs(blendshapes: np.ndarray, name: str) -> np.ndarray:
    return blendshapes[..., BLENDSHAPE_INDEX[name]]


def lips_apart(landmarks: np.ndarray) -> np.ndarray:
    """AU25 from geometry: inner-lip gap over mouth width, mapped to 0-1.

    Args:
        landmarks: ``(..., 478, 2+)`` landmark pixels.
    Returns:
        ``(...)`` float32 in [0, 1].
    """
    lm = np.asarray(landmarks, np.float32)
    gap = np.linalg.norm(lm[..., _UPPER_INNER_LIP, :2] - lm[..., _LOWER_INNER_LIP, :2], axis=-1)
    width = np.linalg.norm(lm[..., _MOUTH_IN_R, :2] - lm[..., _MOUTH_IN_L, :2], axis=-1)
    return np.clip((gap / np.maximum(width, 1e-6) - 0.04) / 0.25, 0.0, 1.0).astype(np.float32)


def blendshapes_to_aus(blendshapes: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
    """AU intensities from blendshapes (and landmarks for AU25).

    Args:
        blendshapes: ``(..., 52)`` scores.
        landmarks: ``(..., 478, 2+)`` pixels, or None (AU25 then from jawOpen).
    Returns:
        ``(..., len(AU_NAMES)) float32`` intensities 0-1 in :data:`AU_NAMES` order.
    """
    bs = np.asarray(blendshapes, np.float32)
    out = np.zeros(bs.shape[:-1] + (len(AU_NAMES),), np.float32)
    for i, (au, _, names) in enumerate(AU_TABLE):
        if names:
            out[..., i] = np.mean([_bs(bs, n) for n in names], axis=0)
        elif au == "AU25":
            out[..., i] = lips_apart(landmarks) if landmarks is not None else np.clip(_bs(bs, "jawOpen") * 2, 0, 1)
    gate = np.clip(out[..., AU_INDEX["AU12"]] / 0.5, 0.0, 1.0)
    squint = out[..., AU_INDEX["AU7"]].copy()
    out[..., AU_INDEX["AU6"]] = np.maximum(out[..., AU_INDEX["AU6"]], squint * gate)
    out[..., AU_INDEX["AU7"]] = squint * (1.0 - gate / 2.0)
    return np.clip(out, 0.0, 1.0)


def au_sides(blendshapes: np.ndarray, au: str) -> tuple[float, float] | None:
    """``(left, right)`` intensities of a bilateral AU from a ``(52,)`` blendshape vector, else None."""
    names = dict((a, n) for a, _, n in AU_TABLE)[au]
    if len(names) != 2:
        return None
    return float(_bs(blendshapes, names[0])), float(_bs(blendshapes, names[1]))


def emotion_scores(aus: np.ndarray, blendshapes: np.ndarray | None = None) -> np.ndarray:
    """EMFACS-style prototype scores.

    Args:
        aus: ``(..., len(AU_NAMES))`` intensities.
        blendshapes: ``(..., 52)`` for the one-sided contempt rule (optional).
    Returns:
        ``(..., len(EMOTIONS)) float32`` scores 0-1 in :data:`EMOTIONS` order.
    """
    a = np.asarray(aus, np.float32)
    deg = np.stack([np.clip(a[..., AU_INDEX[n]] / AU_ON_LEVEL[n], 0, 1) for n in AU_NAMES], -1)
    out = np.zeros(a.shape[:-1] + (len(EMOTIONS),), np.float32)
    for k, emo in enumerate(EMOTIONS):
        if emo in EMOTION_RULES:
            d = deg[..., [AU_INDEX[n] for n in EMOTION_RULES[emo]]]
            out[..., k] = d.mean(-1) * d.min(-1) ** 0.5
    if blendshapes is not None:  # contempt: a one-sided lip-corner pull without cheek raise
        bs = np.asarray(blendshapes, np.float32)
        sl, sr = _bs(bs, "mouthSmileLeft"), _bs(bs, "mouthSmileRight")
        dl, dr = _bs(bs, "mouthDimpleLeft"), _bs(bs, "mouthDimpleRight")
        hi, lo = np.maximum(sl + dl, sr + dr), np.minimum(sl + dl, sr + dr)
        one_sided = np.clip((hi - lo - 0.15) / 0.3, 0, 1) * np.clip(1 - lo / 0.4, 0, 1)
        out[..., EMOTIONS.index("contempt")] = one_sided * (1 - deg[..., AU_INDEX["AU6"]])
    out[..., 0] = 1.0 - out[..., 1:].max(-1)
    return out


def emotion_label(scores: np.ndarray) -> str:
    """The label with the highest score in a ``(len(EMOTIONS),)`` vector."""
    return EMOTIONS[int(np.argmax(scores))]


@dataclass(frozen=True)
class Pose:
    """Head rotation in degrees. yaw > 0: the face turns towards the image's right (the
    subject's left); pitch > 0: the face tilts up; roll > 0: the head tilts counter-clockwise
    as the viewer sees it."""

    yaw: float
    pitch: float
    roll: float


def head_pose(matrix: np.ndarray) -> Pose:
    """Yaw, pitch, roll (degrees) from MediaPipe's ``(4, 4)`` facial transformation matrix.

    The rotation is read as ``R = Ry(yaw) @ Rx(-pitch) @ Rz(roll)`` in the camera frame
    (x right, y up, z towards the viewer).
    """
    r = np.asarray(matrix, np.float64)[:3, :3]
    r = r / np.linalg.norm(r, axis=0, keepdims=True)  # drop any scale
    pitch = math.degrees(math.asin(float(np.clip(r[1, 2], -1.0, 1.0))))
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[1, 1]))
    return Pose(yaw, pitch, roll)


def head_pose_array(matrices: np.ndarray) -> np.ndarray:
    """``(T, 4, 4)`` matrices -> ``(T, 3) float32`` yaw, pitch, roll in degrees."""
    return np.array([[p.yaw, p.pitch, p.roll] for p in map(head_pose, matrices)], np.float32).reshape(-1, 3)


def blink_intervals(
    blink: np.ndarray, times: np.ndarray, on: float = 0.5, off: float = 0.35, max_dur: float = 0.6
) -> list[tuple[float, float]]:
    """Blinks from a per-frame eye-closure score, with hysteresis.

    Args:
        blink: ``(T,)`` eye-closure 0-1 (mean of eyeBlinkLeft/Right).
        times: ``(T,)`` seconds.
        on, off: thresholds to enter / leave a closure.
        max_dur: longer closures are eyes kept shut, not blinks.
    Returns:
        ``[(start, end), ...]`` seconds.
    """
    out: list[tuple[float, float]] = []
    start = None
    for v, t in zip(np.asarray(blink, np.float32), np.asarray(times, np.float64)):
        if start is None and v >= on:
            start = t
        elif start is not None and v < off:
            if t - start <= max_dur:
                out.append((float(start), float(t)))
            start = None
    return out
