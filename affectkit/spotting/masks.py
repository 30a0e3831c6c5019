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
    vad_before: float = 0.6,
    vad_after: float = 0.4,
) -> np.ndarray:
    """``(T,) bool``: the face is (probably) speaking.

    Without audio, frames whose mouth moves like speech (dilated by ``dilate`` s). With audio,
    voice activity, widened by ``vad_before`` s before each stretch (lips part and the jaw moves
    before the voice starts) and ``vad_after`` s after it, where this face's mouth moves within
    half a second: a listener's face stays False.

    Args:
        aus: ``(T, len(AU_NAMES))`` AU intensities.
        times: ``(T,)`` seconds.
        vad: ``(T,) bool`` audio voice activity at the frame times, or None (no audio).
        threshold: mouth activity above which the mouth counts as moving like speech.
    """
    act = mouth_activity(aus, times)
    moving = act >= threshold
    if len(times) < 2:
        return moving
    fps = 1.0 / max(float(np.median(np.diff(times))), 1e-3)

    def grow(mask: np.ndarray, seconds: float) -> np.ndarray:
        return maximum_filter1d(mask, size=max(1, 2 * int(round(seconds * fps)) + 1))

    if vad is None:
        return grow(moving, dilate)
    before = max(0, int(round(vad_before * fps)))
    after = max(0, int(round(vad_after * fps)))
    widened = np.zeros_like(vad, dtype=bool)
    for i in np.flatnonzero(vad):
        widened[max(0, i - before) : i + after + 1] = True
    return widened & grow(moving, 0.5)


def audio_speech_segments(video: str) -> list[tuple[float, float]] | None:
    """Voice-activity segments of a video's audio (silero VAD), or None when it has no audio."""
    from .. import media
    from ..speech.audio import speech_regions

    if not media.probe(video).has_audio:
        return None
    audio = media.read_audio(video)
    return [(float(s), float(e)) for s, e in speech_regions(audio)] if audio.size else []
