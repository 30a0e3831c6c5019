"""Similarity alignment of faces to a canonical template (eye corners), and aligned crops.

The template places the four eye corners of MediaPipe's mesh at fixed positions of a
square crop, so that brows, eyes, nose, mouth and chin land at the same crop coordinates in
every frame. Scale, rotation and translation are fitted by least squares (Umeyama).
"""

from __future__ import annotations

import cv2
import numpy as np

# MediaPipe face-mesh indices ("right"/"left" are the subject's)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 33, 133, 362, 263
EYE_CORNERS: tuple[int, ...] = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER)

TEMPLATE: dict[int, tuple[float, float]] = {
    RIGHT_EYE_OUTER: (0.30, 0.34),
    RIGHT_EYE_INNER: (0.43, 0.35),
    LEFT_EYE_INNER: (0.57, 0.35),
    LEFT_EYE_OUTER: (0.70, 0.34),
}
"""Template positions of the eye corners in a unit square (x right, y down, image view): the
crop then spans from the forehead above the brows to just below the chin."""


def similarity_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Args:
        src, dst: ``(N, 2)`` matching points, ``N >= 2``.

    Returns:
        ``(2, 3) float64`` affine matrix ``M`` with ``dst ~= M @ [x, y, 1]``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s**2).sum() / len(src)
    if var <= 1e-12:
        raise ValueError("degenerate points: all source points coincide")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / var
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def alignment_matrix(
    landmarks: np.ndarray, size: int, indices: tuple[int, ...] = EYE_CORNERS
) -> np.ndarray:
    """The ``(2, 3)`` image-to-crop similarity for a ``size`` x ``size`` aligned crop.

    Args:
        landmarks: ``(478, 2+)`` landmark pixels of one face.
        size: crop side in pixels.
        indices: landmarks fitted to :data:`TEMPLATE` (default: the four eye corners).
    """
    src = np.asarray(landmarks, np.float64)[list(indices), :2]
    dst = np.array([TEMPLATE[i] for i in indices], np.float64) * size
    return similarity_from_points(src, dst)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine to ``(N, 2+)`` points; returns ``(N, 2) float32``."""
    p = np.asarray(points, np.float64)[:, :2]
    return (p @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int, *, gray: bool = False) -> np.ndarray:
    """Warp ``image`` (``(H, W, 3) uint8``) with an image-to-crop ``matrix`` into a square crop.

    Returns ``(size, size, 3) uint8``, or ``(size, size) uint8`` when ``gray``.
    """
    src = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if gray else image
    return cv2.warpAffine(
        src, matrix.astype(np.float32), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int = 160, *, gray: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crop of one face: ``((size, size[, 3]) uint8 crop, (2, 3) matrix)``."""
    m = alignment_matrix(landmarks, size)
    return warp_crop(image, m, size, gray=gray), m


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the two outer eye corners, pixels (the face's scale)."""
    p = np.asarray(landmarks)
    return float(np.linalg.norm(p[RIGHT_EYE_OUTER, :2] - p[LEFT_EYE_OUTER, :2]))
