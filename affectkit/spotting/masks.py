"""Per-frame context masks for spotting: is the person speaking, and when do they blink.

Speaking: the audio's voice activity says *someone* speaks; the face's own mouth activity
(frame-to-frame change of jaw opening and lip parting) says whether it is this face. With audio,
a frame counts as speaking when both agree; without audio, mouth activity alone decides.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from ..face.aus import AU_INDEX


def mouth_activity(aus: np.ndarray, times: np.ndarray, window: float = 0.4) -> np.ndarray:
    """``(T,)`` mean absolute frame-to-frame change of AU25 + AU26 over a sliding window.

    Args:
        aus: ``(T, len(AU_NAMES))`` AU intensities of one track.
        times: ``(T,)`` seconds.
        window: seconds.
    """
    if len(times) < 2:
        return np.zeros(len(times), np.float32)
    jaw = aus[:, AU_INDEX["AU26"]] + aus[:, AU_INDEX["AU25"]]
    d = np.abs(np.diff(jaw, prepend=jaw[0]))
    fps = 1.0 / max(float(np.median(np.diff(times))), 1e-3)
    return uniform_filter1d(d, size=max(3, int(round(window * fps))), mode="nearest").astype(np.float32)


def voice_active(times: np.ndarray, segments: list[tuple[float, float]] | None) -> np.ndarray | None:
    """``(T,) bool``: inside any ``(start, end)`` speech segment, or None without segments."""
    if segments is None:
        return None
    t = np.asarray(times)
    out = np.zeros(len(t), bool)
    for s, e in segments:
        out |= (t >= s) & (t <= e)
    return out


def speaking_mask(
    aus: np.ndarray,
    times: np.ndarray,
    vad: np.ndarray | None = None,
    *,
    threshold: float = 0.08,
    dilate: float = 0.15,
) -> np.ndarray:
    """``(T,) bool``: the face is (probably) speaking.

    Args:
        aus: ``(T, len(AU_NAMES))`` AU intensities.
        times: ``(T,)`` seconds.
        vad: ``(T,) bool`` audio voice activity at the frame times, or None (no audio).
        threshold: mouth activity above which the mouth counts as moving like speech.
        dilate: seconds added on each side.
    """
    act = mouth_activity(aus, times)
    moving = act >= threshold
    if vad is not None:
        moving &= vad
    if len(times) > 1:
        fps = 1.0 / max(float(np.median(np.diff(times))), 1e-3)
        moving = maximum_filter1d(moving, size=max(1, 2 * int(round(dilate * fps)) + 1))
    return moving
