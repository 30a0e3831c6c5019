"""The speech stage: audio -> utterances with timed, speaker-labelled words, roles, prosody.

:func:`run_speech` wires the speech modules in order:

1. words: ASR (:mod:`.asr`) then forced alignment (:mod:`.align`), or a transcript the user
   has (:mod:`.transcripts`) aligned with no ASR;
2. speakers: the transcript's own, or diarization (:mod:`.diarize`), one per word;
3. utterances: words grouped by speaker, sentence ends and pauses; questions marked;
4. roles (:mod:`.roles`), prosody and per-speaker summaries (:mod:`.prosody`).

Silence, very short audio and audio without speech give an empty result with a warning.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError
from ..schema import Role, Utterance, VoiceSummary, Word
from .audio import SR, check_audio, rms_db

log = logging.getLogger(__name__)

MIN_DURATION = 0.3
"""Audio shorter than this (seconds) holds no analysable speech."""
SILENCE_DB = -65.0
"""Audio whose overall level is below this (dBFS) counts as silent."""


class SpeechConfig(BaseModel):
    """Options of the speech stage (all optional; the defaults run fully offline)."""

    model_config = ConfigDict(extra="forbid")

    # recognition
    whisper_model: str | None = Field(None, description="faster-whisper size name or model folder (default tiny.en)")
    language: str | None = Field(None, description="spoken language code; None: English for .en models, else detected")
    beam_size: int = Field(5, ge=1, le=20, description="ASR beam width (1: greedy, fastest)")
    threads: int = Field(0, ge=0, description="CPU threads for the models (0: all cores, at most 8)")
    compute_type: str = Field("int8", description="CTranslate2 compute type for whisper")
    vad: bool = Field(True, description="skip non-speech before ASR (silero VAD)")
    initial_prompt: str | None = Field(None, description="text that primes ASR (names, domain words)")
    hotwords: str | None = Field(None, description="words ASR should favour")
    grammar: str | None = Field(
        None, description="a JSGF grammar (file or text): recognise with pocketsphinx constrained to it, not whisper"
    )
    # alignment
    align: bool = Field(True, description="refine word times by forced alignment (English)")
    aligner_model: str | None = Field(None, description="pocketsphinx en-us model folder (default: resolved)")
    # transcript instead of ASR
    transcript: Path | None = Field(None, description="a transcript to align instead of running ASR")
    transcript_format: str | None = Field(None, description="its format when the suffix does not tell")
    # speakers
    diarizer: Literal["resemblyzer", "pyannote", "none"] = Field(
        "resemblyzer", description="who-spoke-when backend ('none': one speaker)"
    )
    num_speakers: int | None = Field(None, ge=1, le=20, description="known number of speakers (None: found)")
    detect_overlap: bool = Field(False, description="mark a second speaker where two voices overlap (experimental)")
    encoder_weights: str | None = Field(None, description="speaker-encoder checkpoint (default: resolved)")
    pyannote_pipeline: str = Field("pyannote/speaker-diarization-3.1", description="pyannote pipeline (diarizer='pyannote')")
    channels: Literal["mix", "split"] = Field(
        "mix", description="multi-channel audio: 'mix' to mono, or 'split' (one speaker per channel, no diarization)"
    )
    roles: dict[str, Role] | None = Field(None, description="speaker label -> role, overriding the inferred roles")
    # utterances
    max_pause: float = Field(1.0, gt=0, description="a longer silence within one speaker starts a new utterance (s)")

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, v):
        if isinstance(v, str):
            from .roles import parse_roles

            return parse_roles(v)
        return v


@dataclass
class SpeechResult:
    """What the speech stage found.

    Attributes:
        utterances: time-ordered, ids ``u0``, ``u1``...; words carry speaker, score, aligned, prosody.
        speakers: speaker labels in order of first speech.
        roles: label -> ``"interviewer"`` / ``"interviewee"`` / ``"unknown"``.
        voice_summaries: label -> :class:`~affectkit.schema.VoiceSummary`.
        speech_segments: diarized voice activity ``(start, end, label)``, time-ordered.
        warnings: what went wrong or was skipped, in words.
        language: the language used or detected.
        timings: seconds spent per step (asr, align, diarize, prosody, total).
    """

    utterances: list[Utterance] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    voice_summaries: dict[str, VoiceSummary] = field(default_factory=dict)
    speech_segments: list[tuple[float, float, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    language: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def words(self) -> list[Word]:
        """All words, in time order."""
        return sorted((w for u in self.utterances for w in u.words), key=lambda w: (w.start, w.end))

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)


class _Warnings(list):
    def add(self, msg: str) -> None:
        log.warning(msg)
        if msg not in self:
            self.append(msg)


def run_speech(
    audio: np.ndarray,
    config: SpeechConfig | dict | None = None,
    duration: float | None = None,
    progress: bool = True,
) -> SpeechResult:
    """Run the speech stage on ``audio``.

    Args:
        audio: ``(n,) float32`` mono at 16 kHz (:data:`affectkit.media.AUDIO_RATE`). A
            ``(n, channels)`` array is mixed to mono, or with ``channels="split"`` analysed
            channel by channel (one speaker per channel).
        config: :class:`SpeechConfig` (or a dict of its fields).
        duration: the media's duration in seconds, when it differs from the audio's (times
            are clipped to it).
        progress: show progress bars on long steps.

    Returns:
        :class:`SpeechResult`; empty (with a warning) for silence, very short audio or no speech.

    Raises:
        ConfigError: invalid options or audio that is not an array.
        TranscriptFormatError: the transcript cannot be read.
        ModelNotFoundError: a model cannot be found (the message says where it looked).
    """
    cfg = _config(config)
    t_all = time.perf_counter()
    warns = _Warnings()
    res = SpeechResult(warnings=warns)
    raw = np.asarray(audio)
    if cfg.channels == "split" and raw.ndim == 2 and min(raw.shape) > 1:
        return _run_split(raw, cfg, duration, progress, warns, t_all)
    if cfg.channels == "split":
        warns.add("channels='split' needs (n, channels) audio with 2+ channels; the mono audio was analysed as one mix")
    audio = check_audio(raw)
    dur = min(audio.size / SR, duration) if duration else audio.size / SR
    if not _has_signal(audio, warns):
        res.timings["total"] = round(time.perf_counter() - t_all, 3)
        return res

    words, transcript_utts, speakers_known = _words(audio, cfg, progress, warns, res)
    if not words:
        if not warns:
            warns.add("no speech was found in the audio")
        res.timings["total"] = round(time.perf_counter() - t_all, 3)
        return res

    # speakers
    t0 = time.perf_counter()
    segments: list[tuple[float, float, str]] = []
    if speakers_known:
        words = [w if w.speaker else w.model_copy(update={"speaker": "SPEAKER_00"}) for w in words]
        segments = _segments_from_words(words)
    elif cfg.diarizer == "none":
        words = [w.model_copy(update={"speaker": "SPEAKER_00"}) for w in words]
        segments = _segments_from_words(words)
    else:
        diar = _diarize(audio, cfg, warns)
        if diar is None or not diar.segments:
            words = [w.model_copy(update={"speaker": "SPEAKER_00"}) for w in words]
            segments = _segments_from_words(words)
        else:
            from .diarize import assign_speakers

            words = assign_speakers(words, diar)
            segments = list(diar.segments)
    res.timings["diarize"] = round(time.perf_counter() - t0, 3)

    # utterances
    if transcript_utts is not None:
        utts = _regroup_transcript(transcript_utts, words)
    else:
        utts = group_utterances(words, max_pause=cfg.max_pause)
    _finish(res, audio, utts, segments, cfg, warns, dur)
    res.timings["total"] = round(time.perf_counter() - t_all, 3)
    return res


# ------------------------------------------------------------------ helpers
def _config(config: SpeechConfig | dict | None) -> SpeechConfig:
    if config is None:
        return SpeechConfig()
    if isinstance(config, SpeechConfig):
        return config
    try:
        return SpeechConfig(**config)
    except Exception as exc:  # pydantic ValidationError
        raise ConfigError(f"invalid speech options: {exc}") from exc


def _has_signal(audio: np.ndarray, warns: _Warnings) -> bool:
    d = audio.size / SR
    if d < MIN_DURATION:
        warns.add(f"the audio is {d:.2f} s long, too short for speech analysis (needs at least {MIN_DURATION} s)")
        return False
    level = rms_db(audio)
    if level < SILENCE_DB:
        warns.add(f"the audio is silent ({level:.0f} dBFS); no speech to analyse")
        return False
    return True


def _words(
    audio: np.ndarray, cfg: SpeechConfig, progress: bool, warns: _Warnings, res: SpeechResult
) -> tuple[list[Word], list[Utterance] | None, bool]:
    """Words with times (ASR + alignment, or the aligned transcript); the transcript's lines
    (None for ASR); whether the words already carry speakers."""
    from . import align as al

    if cfg.transcript is not None:
        from .audio import speech_regions
        from .transcripts import read_transcript

        tr = read_transcript(cfg.transcript, cfg.transcript_format)
        res.language = tr.language or cfg.language or "en"
        t0 = time.perf_counter()
        aligner = al.get_aligner(cfg.aligner_model)
        dur = audio.size / SR
        if tr.timed:
            late = [u for u in tr.utterances if u.start >= dur]
            if late:
                warns.add(f"{len(late)} transcript line(s) start after the audio ends ({dur:.1f} s); is it the right transcript?")
            utts, msgs = al.align_utterances(audio, tr.utterances, aligner=aligner, progress=progress)
            for m in msgs:
                warns.add(m)
        else:
            regions = speech_regions(audio)
            if not regions:
                warns.add("no speech was found in the audio, so the transcript could not be placed")
                return [], None, False
            lo, hi = max(0.0, regions[0][0] - 0.3), min(dur, regions[-1][1] + 0.3)
            if hi - lo > 600:
                warns.add("aligning an untimed transcript to more than 10 minutes of audio is slow and fragile; "
                          "a timed transcript (SRT, VTT, whisperX JSON, STM) aligns line by line")
            words = al.align_text(audio, tr.text, start=lo, end=hi, aligner=aligner)
            if words and not any(w.aligned for w in words):
                warns.add("the transcript could not be aligned to the audio (does it belong to this recording?); its "
                          "words are spread over the speech with aligned=False")
            utts = [Utterance(id="u0", start=words[0].start, end=words[-1].end, text=tr.text, words=words)] if words else []
        res.timings["align"] = round(time.perf_counter() - t0, 3)
        words = [w for u in utts for w in u.words]
        return words, utts, tr.has_speakers

    if cfg.grammar is not None:
        from .grammar import recognize_grammar

        t0 = time.perf_counter()
        words = recognize_grammar(audio, cfg.grammar, model_dir=cfg.aligner_model)
        res.timings["asr"] = round(time.perf_counter() - t0, 3)
        res.language = "en"
        if not words:
            warns.add("no speech matching the grammar was found in the audio")
        return _monotonic(words), None, False

    from .asr import transcribe

    t0 = time.perf_counter()
    r = transcribe(
        audio, model_name=cfg.whisper_model, language=cfg.language, beam_size=cfg.beam_size, threads=cfg.threads,
        vad=cfg.vad, initial_prompt=cfg.initial_prompt, hotwords=cfg.hotwords, progress=progress,
    )
    res.timings["asr"] = round(time.perf_counter() - t0, 3)
    res.language = r.language
    words = r.words
    if not words:
        warns.add("no speech was found in the audio (the recogniser returned no words)")
        return [], None, False
    if cfg.align:
        if r.language != "en":
            warns.add(f"forced alignment is English-only; the {r.language!r} words keep the recogniser's times (aligned=False)")
        else:
            t0 = time.perf_counter()
            words = al.refine_words(audio, words, aligner=al.get_aligner(cfg.aligner_model), progress=progress)
            res.timings["align"] = round(time.perf_counter() - t0, 3)
            n_bad = sum(1 for w in words if not w.aligned)
            if n_bad:
                log.info("%d of %d words kept their recogniser times (alignment failed for their stretch)", n_bad, len(words))
    return _monotonic(words), None, False


def _monotonic(words: list[Word]) -> list[Word]:
    """Sort by time and keep consecutive words from overlapping by more than they should."""
    ws = sorted(words, key=lambda w: (w.start, w.end))
    out: list[Word] = []
    for w in ws:
        if out and w.start < out[-1].start:
            w = w.model_copy(update={"start": out[-1].start, "end": max(w.end, out[-1].start)})
        out.append(w)
    return out


def _diarize(audio: np.ndarray, cfg: SpeechConfig, warns: _Warnings):
    from .diarize import DiarizationConfig, diarize, diarize_pyannote

    if cfg.diarizer == "pyannote":
        return diarize_pyannote(audio, num_speakers=cfg.num_speakers, pipeline=cfg.pyannote_pipeline)
    dcfg = DiarizationConfig(overlap_margin=0.03 if cfg.detect_overlap else 0.0)
    return diarize(audio, num_speakers=cfg.num_speakers, config=dcfg, encoder_weights=cfg.encoder_weights,
                   threads=cfg.threads)


def _segments_from_words(words: list[Word], join_gap: float = 0.5) -> list[tuple[float, float, str]]:
    """Voice activity per speaker from word spans (runs joined across short gaps)."""
    segs: list[list] = []
    last: dict[str, int] = {}
    for w in sorted(words, key=lambda w: w.start):
        spk = w.speaker or "SPEAKER_00"
        k = last.get(spk)
        if k is not None and w.start - segs[k][1] <= join_gap:
            segs[k][1] = max(segs[k][1], w.end)
        else:
            segs.append([w.start, w.end, spk])
            last[spk] = len(segs) - 1
    return sorted((round(s, 3), round(e, 3), lab) for s, e, lab in segs)


_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")


def group_utterances(words: list[Word], *, max_pause: float = 1.0) -> list[Utterance]:
    """Group time-ordered words into utterances: a new one starts at a change of speaker,
    after a sentence end (``.``, ``?``, ``!``), or after a pause longer than ``max_pause``."""
    groups: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        if groups:
            prev = groups[-1][-1]
            same = w.speaker == prev.speaker
            if same and w.start - prev.end <= max_pause and not _SENTENCE_END.search(prev.text):
                groups[-1].append(w)
                continue
        groups.append([w])
    return [
        Utterance(id=f"u{i}", speaker=g[0].speaker, start=g[0].start, end=max(x.end for x in g),
                  text=" ".join(x.text for x in g), words=g)
        for i, g in enumerate(groups)
    ]


def _regroup_transcript(lines: list[Utterance], words: list[Word]) -> list[Utterance]:
    """The transcript's own lines, with their words (now timed and with speakers); a line
    without a speaker takes the one that says most of its words."""
    out: list[Utterance] = []
    k = 0
    for u in lines:
        ws = words[k : k + len(u.words)]
        k += len(u.words)
        spk = u.speaker
        if spk is None and ws:
            counts: dict[str, int] = {}
            for w in ws:
                if w.speaker:
                    counts[w.speaker] = counts.get(w.speaker, 0) + 1
            spk = max(counts, key=counts.get) if counts else None
        ws = [w.model_copy(update={"speaker": spk}) for w in ws]
        start = min((w.start for w in ws), default=u.start)
        end = max((w.end for w in ws), default=u.end)
        out.append(u.model_copy(update={"speaker": spk, "words": ws, "start": start, "end": max(end, start)}))
    out.sort(key=lambda u: (u.start, u.end))
    return [u.model_copy(update={"id": f"u{i}"}) for i, u in enumerate(out)]


def _finish(
    res: SpeechResult,
    audio: np.ndarray,
    utts: list[Utterance],
    segments: list[tuple[float, float, str]],
    cfg: SpeechConfig,
    warns: _Warnings,
    dur: float,
    tracks: dict[str, tuple[np.ndarray, object]] | None = None,
) -> None:
    """Questions, prosody, speaker order, roles, summaries: fills ``res`` in place."""
    from . import align as al
    from .prosody import pitch_track, utterance_prosody, voice_summaries
    from .roles import infer_roles, is_question

    t0 = time.perf_counter()
    utts = [_clip(u, dur) for u in utts]
    utts = [u.model_copy(update={"is_question": is_question(u.text)}) for u in utts]
    syll = al.get_aligner(cfg.aligner_model).word_syllables
    if tracks is None:
        track = pitch_track(audio, regions=[(w.start, w.end) for u in utts for w in u.words])
        utts = utterance_prosody(audio, utts, track, syllables=syll)
        summaries = voice_summaries(audio, utts, track, syllables=syll)
    else:  # one audio per speaker (split channels)
        done: list[Utterance] = []
        summaries = {}
        for spk, (a, track) in tracks.items():
            mine = [u for u in utts if u.speaker == spk]
            done += utterance_prosody(a, mine, track, syllables=syll)
            summaries.update(voice_summaries(a, [u for u in done if u.speaker == spk], track, syllables=syll))
        utts = done
    res.timings["prosody"] = round(time.perf_counter() - t0, 3)
    utts.sort(key=lambda u: (u.start, u.end))
    res.utterances = [u.model_copy(update={"id": f"u{i}"}) for i, u in enumerate(utts)]
    first: dict[str, float] = {}
    for s, _, lab in sorted(segments):
        first.setdefault(lab, s)
    for u in res.utterances:
        if u.speaker:
            first[u.speaker] = min(first.get(u.speaker, u.start), u.start)
    res.speakers = sorted(first, key=lambda k: first[k])
    res.speech_segments = sorted(
        (round(float(max(0.0, s)), 3), round(float(min(e, dur)), 3), str(lab)) for s, e, lab in segments if s < dur
    )
    overrides = dict(cfg.roles or {})
    for lab in list(overrides):
        if lab not in res.speakers:
            warns.add(f"roles: no speaker {lab!r} was found (speakers: {', '.join(res.speakers) or 'none'}); override ignored")
            overrides.pop(lab)
    res.roles = infer_roles(res.utterances, res.speakers, overrides)
    res.voice_summaries = summaries
    for lab in res.speakers:
        res.voice_summaries.setdefault(lab, VoiceSummary(speaking_time=round(sum(e - s for s, e, l in res.speech_segments if l == lab), 3),
                                                         turns=0, words=0))


def _clip(u: Utterance, dur: float) -> Utterance:
    if u.end <= dur:
        return u
    words = [w.model_copy(update={"start": min(w.start, dur), "end": min(w.end, dur)}) for w in u.words]
    return u.model_copy(update={"start": min(u.start, dur), "end": min(u.end, dur), "words": words})


def _run_split(
    raw: np.ndarray, cfg: SpeechConfig, duration: float | None, progress: bool, warns: _Warnings, t_all: float
) -> SpeechResult:
    """One speaker per channel: each channel is recognised and aligned on its own."""
    from .prosody import pitch_track

    chans = raw if raw.shape[0] >= raw.shape[1] else raw.T  # (n, C)
    res = SpeechResult(warnings=warns)
    all_words: list[Word] = []
    segments: list[tuple[float, float, str]] = []
    tracks: dict[str, tuple[np.ndarray, object]] = {}
    sub = cfg.model_copy(update={"channels": "mix", "transcript": None})
    for c in range(chans.shape[1]):
        a = check_audio(chans[:, c])
        label = f"SPEAKER_{c:02d}"
        if a.size / SR < MIN_DURATION or rms_db(a) < SILENCE_DB:
            continue
        part = SpeechResult(warnings=_Warnings())
        words, _, _ = _words(a, sub, progress, _Warnings(), part)
        for k, v in part.timings.items():
            res.timings[k] = round(res.timings.get(k, 0.0) + v, 3)
        res.language = res.language or part.language
        words = [w.model_copy(update={"speaker": label}) for w in words]
        all_words += words
        segments += _segments_from_words(words)
        tracks[label] = (a, pitch_track(a, regions=[(w.start, w.end) for w in words]))
    audio = chans.mean(axis=1).astype(np.float32)
    dur = min(audio.size / SR, duration) if duration else audio.size / SR
    if not all_words:
        warns.add("no speech was found in any channel")
        res.timings["total"] = round(time.perf_counter() - t_all, 3)
        return res
    utts = []
    for lab in tracks:
        utts += group_utterances([w for w in all_words if w.speaker == lab], max_pause=cfg.max_pause)
    _finish(res, audio, utts, segments, cfg, warns, dur, tracks=tracks)
    res.timings["total"] = round(time.perf_counter() - t_all, 3)
    return res
