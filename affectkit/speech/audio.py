"""Audio checks and voice activity shared by the speech modules.

Every function takes the stage's audio convention: ``(n,) float32`` mono samples at
16 kHz (:data:`affectkit.media.AUDIO_RATE`), values in [-1, 1].
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from ..errors import ConfigError
from ..media import AUDIO_RATE

log = logging.getLogger(__name__)

SR = AUDIO_RATE
"""Sample rate of the speech stage (Hz)."""


def check_audio(audio: np.ndarray) -> np.ndarray:
    """Validate and return ``audio`` as contiguous ``(n,) float32``.

    Accepts a 1-D array, or a 2-D ``(n, channels)`` / ``(channels, n)`` array that is mixed
    down to mono (the smaller axis is taken as channels). Non-finite samples become 0.

    Raises:
        ConfigError: not an array of numbers, or more than 2 dimensions.
    """
    try:
        a = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"audio must be a numeric array of 16 kHz mono samples, got {type(audio).__name__}; "
            "use affectkit.media.read_audio(path) to decode a file"
        ) from exc
    if a.ndim == 2:
        a = a.mean(axis=int(np.argmin(a.shape)))
    elif a.ndim != 1:
        raise ConfigError(f"audio must be 1-D (n,) mono samples at 16 kHz, got shape {a.shape}")
    if not np.isfinite(a).all():
        log.warning("audio contains NaN/inf samples; they were set to 0")
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(a)


def to_pcm16(audio: np.ndarray) -> bytes:
    """``(n,) float32`` in [-1, 1] -> little-endian 16-bit PCM bytes."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def rms_db(audio: np.ndarray) -> float:
    """Root-mean-square level of ``(n,) float32`` audio in dBFS (-120 for silence)."""
    if audio.size == 0:
        return -120.0
    r = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * np.log10(max(r, 1e-6))


@functools.lru_cache(maxsize=2)
def _vad_model(path: str):
    from faster_whisper.vad import SileroVADModel

    return SileroVADModel(path)


VAD_HOP = 512
"""Samples per voice-activity frame (32 ms at 16 kHz)."""


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Speech probability of every 32 ms frame of ``audio``.

    Uses the silero VAD network (ONNX) resolved by :func:`affectkit.models.resolve`
    ``("silero_vad")`` (by default the copy inside the faster-whisper package).

    Args:
        audio: ``(n,) float32`` mono at 16 kHz.

    Returns:
        ``(ceil(n / 512),) float32`` probabilities; frame ``k`` covers samples ``[512 k, 512 (k + 1))``.
    """
    from .. import models

    if audio.size == 0:
        return np.zeros(0, dtype=np.float32)
    model = _vad_model(str(models.resolve("silero_vad").path))
    padded = np.pad(audio, (0, (-audio.size) % VAD_HOP))
    return np.asarray(model(padded), dtype=np.float32).reshape(-1)


def regions_from_probabilities(
    probs: np.ndarray,
    duration: float,
    *,
    threshold: float = 0.5,
    min_speech: float = 0.15,
    min_silence: float = 0.3,
    pad: float = 0.1,
) -> list[tuple[float, float]]:
    """Hysteresis over ``(k,) float32`` frame probabilities -> ``(start, end)`` seconds.

    A region opens at ``threshold`` and closes below ``threshold - 0.15``; gaps shorter than
    ``min_silence`` are bridged, regions shorter than ``min_speech`` dropped, the rest padded
    by ``pad`` seconds (clipped to ``[0, duration]``).
    """
    hop = VAD_HOP / SR
    low = max(threshold - 0.15, 0.01)
    regions: list[list[float]] = []
    on = False
    start = 0.0
    for k, p in enumerate(probs):
        if not on and p >= threshold:
            on, start = True, k * hop
        elif on and p < low:
            on = False
            regions.append([start, k * hop])
    if on:
        regions.append([start, len(probs) * hop])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < min_silence:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    out: list[tuple[float, float]] = []
    for s, e in merged:
        if e - s < min_speech:
            continue
        s, e = max(0.0, s - pad), min(duration, e + pad)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def speech_regions(audio: np.ndarray, **kwargs: float) -> list[tuple[float, float]]:
    """Voice activity of ``audio`` (``(n,) float32`` at 16 kHz) as ``(start, end)`` seconds.

    See :func:`speech_probabilities` and :func:`regions_from_probabilities` (whose keyword
    options this accepts).
    """
    if audio.size < int(0.03 * SR):
        return []
    return regions_from_probabilities(speech_probabilities(audio), audio.size / SR, **kwargs)
