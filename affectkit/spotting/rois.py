"""Action-unit regions of interest on the aligned face.

Eighteen small square regions where the muscles behind the frequent micro-expression AUs
move the skin (after BoostingVRME's ROI set: each eyebrow in three patches, the inner brows,
lower eyelids, cheeks, both sides of the nose, lip corners, lips, chin), plus one rigid
reference region on the nose bridge, used to remove head motion. Each ROI is anchored on
MediaPipe face-mesh landmarks (its centre is their mean in the aligned crop) with a half-size
given as a fraction of the crop side, so it follows each face's own geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ROI:
    """A region of interest: landmark anchors, half-size (fraction of the crop), group."""

    name: str
    landmarks: tuple[int, ...]
    half: float
    group: str  # brow, eye, cheek, nose, mouth, chin
    side: str  # left, right, both (the subject's side)


ROIS: tuple[ROI, ...] = (
    ROI("brow_r_outer", (46, 70), 0.05, "brow", "right"),
    ROI("brow_r_mid", (53, 63, 105, 52), 0.05, "brow", "right"),
    ROI("brow_r_inner", (65, 66, 107, 55), 0.05, "brow", "right"),
    ROI("brow_l_outer", (276, 300), 0.05, "brow", "left"),
    ROI("brow_l_mid", (283, 293, 334, 282), 0.05, "brow", "left"),
    ROI("brow_l_inner", (295, 296, 336, 285), 0.05, "brow", "left"),
    ROI("glabella", (9, 107, 336), 0.045, "brow", "both"),
    ROI("lid_r_lower", (230, 231, 119, 120), 0.04, "eye", "right"),
    ROI("lid_l_lower", (450, 451, 348, 349), 0.04, "eye", "left"),
    ROI("cheek_r", (50, 205, 117), 0.06, "cheek", "right"),
    ROI("cheek_l", (280, 425, 346), 0.06, "cheek", "left"),
    ROI("nose_r", (129, 49, 48), 0.045, "nose", "right"),
    ROI("nose_l", (358, 279, 278), 0.045, "nose", "left"),
    ROI("lipcorner_r", (61, 146, 185), 0.06, "mouth", "right"),
    ROI("lipcorner_l", (291, 375, 409), 0.06, "mouth", "left"),
    ROI("upper_lip", (0, 37, 267), 0.05, "mouth", "both"),
    ROI("lower_lip", (17, 84, 314), 0.05, "mouth", "both"),
    ROI("chin", (199, 175, 200), 0.06, "chin", "both"),
)
"""The AU regions, in feature order (``R = 18``)."""

REFERENCE = ROI("nose_bridge", (6, 197, 195), 0.04, "reference", "both")
"""The rigid reference region (head motion)."""

ROI_NAMES: tuple[str, ...] = tuple(r.name for r in ROIS)
ROI_INDEX = {n: i for i, n in enumerate(ROI_NAMES)}
GROUPS: dict[str, tuple[int, ...]] = {
    g: tuple(i for i, r in enumerate(ROIS) if r.group == g) for g in ("brow", "eye", "cheek", "nose", "mouth", "chin")
}
SPEECH_GROUPS = ("mouth", "chin")
"""Groups that speech moves (weighed down while the person speaks)."""
BLINK_GROUPS = ("eye", "brow")
"""Groups that blinks move (masked during blinks)."""


def roi_boxes(aligned_landmarks: np.ndarray, crop_size: int, rois: tuple[ROI, ...] = ROIS) -> np.ndarray:
    """Integer boxes of the ROIs in an aligned crop.

    Args:
        aligned_landmarks: ``(478, 2+)`` landmarks in crop pixels.
        crop_size: crop side in pixels.
    Returns:
        ``(len(rois), 4) int32`` boxes ``x0, y0, x1, y1`` (exclusive ends), clipped to the crop.
    """
    lm = np.asarray(aligned_landmarks, np.float32)
    out = np.zeros((len(rois), 4), np.int32)
    for i, r in enumerate(rois):
        cx, cy = lm[list(r.landmarks), :2].mean(0)
        h = max(2.0, r.half * crop_size)
        x0, y0 = int(round(cx - h)), int(round(cy - h))
        x1, y1 = int(round(cx + h)), int(round(cy + h))
        out[i] = (max(0, x0), max(0, y0), min(crop_size, max(x1, x0 + 2)), min(crop_size, max(y1, y0 + 2)))
    return out


@dataclass(frozen=True)
class MotionPattern:
    """How an action unit moves the ROIs: unit directions (crop x right = the subject's left,
    y down) with weights (1 = main region, 0.5 = where it also shows)."""

    name: str
    aus: tuple[str, ...]
    directions: dict[str, tuple[float, float, float]]  # roi -> (ux, uy, weight)


PATTERNS: tuple[MotionPattern, ...] = (
    MotionPattern("brow_raise", ("AU1", "AU2"), {
        "brow_r_outer": (0, -1, 1), "brow_r_mid": (0, -1, 1), "brow_r_inner": (0, -1, 1),
        "brow_l_outer": (0, -1, 1), "brow_l_mid": (0, -1, 1), "brow_l_inner": (0, -1, 1),
    }),
    MotionPattern("inner_brow_raise", ("AU1",), {
        "brow_r_inner": (0, -1, 1), "brow_l_inner": (0, -1, 1), "glabella": (0, -1, 0.5),
    }),
    MotionPattern("brow_lower", ("AU4",), {
        "brow_r_mid": (0, 1, 1), "brow_l_mid": (0, 1, 1),
        "brow_r_inner": (0.6, 0.8, 1), "brow_l_inner": (-0.6, 0.8, 1), "glabella": (0, 1, 0.5),
    }),
    MotionPattern("cheek_raise", ("AU6",), {
        "cheek_r": (0, -1, 1), "cheek_l": (0, -1, 1), "lid_r_lower": (0, -1, 0.5), "lid_l_lower": (0, -1, 0.5),
    }),
    MotionPattern("lid_tighten", ("AU7",), {"lid_r_lower": (0, -1, 1), "lid_l_lower": (0, -1, 1)}),
    MotionPattern("nose_wrinkle", ("AU9",), {"nose_r": (0, -1, 1), "nose_l": (0, -1, 1), "glabella": (0, 1, 0.5)}),
    MotionPattern("upper_lip_raise", ("AU10",), {"upper_lip": (0, -1, 1), "nose_r": (0, -1, 0.5), "nose_l": (0, -1, 0.5)}),
    MotionPattern("lip_corner_pull", ("AU12",), {
        "lipcorner_r": (-0.55, -0.83, 1), "lipcorner_l": (0.55, -0.83, 1),
        "cheek_r": (0, -1, 0.5), "cheek_l": (0, -1, 0.5),
    }),
    MotionPattern("dimpler", ("AU14",), {"lipcorner_r": (0.95, -0.3, 1), "lipcorner_l": (-0.95, -0.3, 1)}),
    MotionPattern("lip_corner_depress", ("AU15",), {"lipcorner_r": (-0.2, 0.98, 1), "lipcorner_l": (0.2, 0.98, 1)}),
    MotionPattern("chin_raise", ("AU17",), {"chin": (0, -1, 1), "lower_lip": (0, -1, 0.5)}),
    MotionPattern("lip_stretch", ("AU20",), {"lipcorner_r": (-1, 0, 1), "lipcorner_l": (1, 0, 1)}),
    MotionPattern("lip_press", ("AU24",), {"upper_lip": (0, 1, 1), "lower_lip": (0, -1, 1)}),
    MotionPattern("jaw_drop", ("AU25", "AU26"), {"lower_lip": (0, 1, 1), "chin": (0, 1, 1)}),
)  # fmt: skip
"""Directional templates of frequent AUs over the ROIs (matched filters for spotting)."""


def pattern_matrix(patterns: tuple[MotionPattern, ...] = PATTERNS) -> np.ndarray:
    """``(P, R, 2) float32`` weighted unit directions, each pattern scaled to unit norm."""
    u = np.zeros((len(patterns), len(ROIS), 2), np.float32)
    for p, pat in enumerate(patterns):
        for roi, (ux, uy, w) in pat.directions.items():
            v = np.array([ux, uy], np.float32)
            u[p, ROI_INDEX[roi]] = w * v / np.linalg.norm(v)
        u[p] /= np.linalg.norm(u[p])
    return u
