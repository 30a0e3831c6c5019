"""Prosody: pitch, energy, speaking rate and pauses, per word, utterance and speaker.

Pitch comes from our own YIN tracker (:func:`pitch_track`: cumulative mean normalised
difference, 10 ms hop, 60-500 Hz, parabolic refinement, voicing by aperiodicity and level),
vectorised with numpy FFTs. Energy is RMS level in dBFS. Pitch figures are in Hz: the
median of the voiced frames and their range (95th minus 5th percentile, so one octave
error does not set it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..schema import Prosody, Utterance, VoiceSummary, Word, WordProsody
from .audio import SR, rms_db

log = logging.getLogger(__name__)

HOP = 160  # 10 ms
FMIN, FMAX = 60.0, 500.0


@dataclass
class PitchTrack:
    """Frame-wise pitch.

    Attributes:
        f0: ``(F,) float32`` Hz, NaN where unvoiced; frame ``k`` is centred at ``k * 10 ms``.
        level_db: ``(F,) float32`` frame RMS level in dBFS.
    """

    f0: np.ndarray
    level_db: np.ndarray

    def frames(self, start: float, end: float) -> slice:
        return slice(max(0, int(np.floor(start * 100))), max(0, int(np.ceil(end * 100))))


def pitch_track(
    audio: np.ndarray,
    *,
    fmin: float = FMIN,
    fmax: float = FMAX,
    threshold: float = 0.2,
    block: int = 4096,
    regions: Sequence[tuple[float, float]] | None = None,
) -> PitchTrack:
    """YIN pitch of ``(n,) float32`` 16 kHz audio, every 10 ms.

    Args:
        fmin, fmax: pitch search range in Hz.
        regions: only analyse these ``(start, end)`` spans in seconds (e.g. the words);
            other frames are unvoiced with level -120 dB. Default: everything.
        threshold: aperiodicity (CMNDF minimum) below which a frame counts as voiced.
        block: frames processed at once (bounds memory).
    """
    tau_min = int(SR / fmax)
    tau_max = int(np.ceil(SR / fmin))
    win = 640  # 40 ms integration window (3 periods at 75 Hz)
    n_frames = 1 + audio.size // HOP
    total = win + tau_max
    x = np.pad(audio.astype(np.float32), (total // 2, total))
    nfft = 1 << int(np.ceil(np.log2(total + win)))
    f0 = np.full(n_frames, np.nan, dtype=np.float32)
    level = np.full(n_frames, -120.0, dtype=np.float32)
    taus = np.arange(tau_max + 1)
    if regions is None:
        todo = np.arange(n_frames)
    else:
        keep = np.zeros(n_frames, dtype=bool)
        for s0, s1 in regions:
            keep[max(0, int(s0 * 100) - 2) : min(n_frames, int(np.ceil(s1 * 100)) + 2)] = True
        todo = np.flatnonzero(keep)
    for b0 in range(0, todo.size, block):
        frames_b = todo[b0 : b0 + block]
        idx = np.arange(total)[None, :] + HOP * frames_b[:, None]
        fr = x[idx].astype(np.float64)  # (B, total)
        head = fr[:, :win]
        e_head = np.sum(head * head, axis=1)
        level[frames_b] = 10 * np.log10(np.maximum(e_head / win, 1e-12))
        r = np.fft.irfft(np.conj(np.fft.rfft(head, nfft)) * np.fft.rfft(fr, nfft), nfft)[:, : tau_max + 1]
        sq = np.concatenate([np.zeros((fr.shape[0], 1)), np.cumsum(fr * fr, axis=1)], axis=1)
        e_tau = sq[:, taus + win] - sq[:, taus]
        d = np.maximum(e_head[:, None] + e_tau - 2 * r, 0.0)
        cum = np.cumsum(d[:, 1:], axis=1)
        cmnd = np.ones_like(d)
        cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
        seg = cmnd[:, tau_min : tau_max + 1]
        below = seg < threshold
        # first dip below the threshold, then walk to its local minimum
        first = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(seg, axis=1))
        # first index at or after the dip where the curve stops falling
        rising = np.concatenate([seg[:, 1:] >= seg[:, :-1], np.ones((seg.shape[0], 1), dtype=bool)], axis=1)
        rising &= np.arange(seg.shape[1])[None, :] >= first[:, None]
        best = np.argmax(rising, axis=1)
        val = seg[np.arange(len(best)), best]
        tau = best + tau_min
        # parabolic refinement
        a = cmnd[np.arange(len(tau)), np.maximum(tau - 1, 1)]
        c = cmnd[np.arange(len(tau)), np.minimum(tau + 1, tau_max)]
        bb = cmnd[np.arange(len(tau)), tau]
        den = a - 2 * bb + c
        shift = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
        t_ref = tau + np.clip(shift, -1, 1)
        voiced = val < threshold
        f0[frames_b] = np.where(voiced, SR / t_ref, np.nan).astype(np.float32)
    # level gate: frames far below the loud part of the recording are not voiced speech
    if todo.size:
        loud = np.percentile(level[todo], 95)
        f0[level < max(-60.0, loud - 40.0)] = np.nan
    return PitchTrack(f0=f0, level_db=level)


def _pitch_stats(f0: np.ndarray) -> tuple[float | None, float | None]:
    v = f0[np.isfinite(f0)]
    if v.size < 3:
        return None, None
    return round(float(np.median(v)), 1), round(float(np.percentile(v, 95) - np.percentile(v, 5)), 1)


def _energy(audio: np.ndarray, spans: Sequence[tuple[float, float]]) -> float | None:
    parts = [audio[int(s * SR) : max(int(s * SR) + 1, int(e * SR))] for s, e in spans]
    parts = [p for p in parts if p.size]
    if not parts:
        return None
    return round(rms_db(np.concatenate(parts)), 1)


def word_prosody(audio: np.ndarray, words: Sequence[Word], track: PitchTrack | None = None) -> list[Word]:
    """Words with :class:`~affectkit.schema.WordProsody` filled in (new objects, same order).

    ``pause_before`` is the silence since the previous word in time (of anyone) ended, 0 when
    they overlap; None for the first word.
    """
    track = track or pitch_track(audio)
    out: list[Word] = list(words)
    prev_end: float | None = None
    for k in sorted(range(len(words)), key=lambda k: (words[k].start, words[k].end)):
        w = words[k]
        med, rng = _pitch_stats(track.f0[track.frames(w.start, w.end)])
        pause = None if prev_end is None else round(max(0.0, w.start - prev_end), 3)
        out[k] = w.model_copy(update={"prosody": WordProsody(
            pitch_median=med, pitch_range=rng, energy_db=_energy(audio, [(w.start, w.end)]), pause_before=pause)})
        prev_end = w.end if prev_end is None else max(prev_end, w.end)
    return out


def _span_prosody(
    audio: np.ndarray, track: PitchTrack, words: Sequence[Word], start: float, end: float,
    syllables: Callable[[str], int] | None, pause: float | None,
) -> Prosody:
    spans = [(w.start, w.end) for w in words] or [(start, end)]
    f0 = np.concatenate([track.f0[track.frames(s, e)] for s, e in spans]) if spans else np.zeros(0)
    med, rng = _pitch_stats(f0)
    dur = max(end - start, 1e-3)
    n_words = len(words)
    syl = sum(syllables(w.text) for w in words) if syllables and words else None
    return Prosody(
        pitch_median=med,
        pitch_range=rng,
        energy_db=_energy(audio, spans),
        speaking_rate=round(n_words / dur, 2) if n_words and end > start else None,
        syllable_rate=round(syl / dur, 2) if syl and end > start else None,
        pause_before=pause,
    )


def utterance_prosody(
    audio: np.ndarray,
    utterances: Sequence[Utterance],
    track: PitchTrack | None = None,
    syllables: Callable[[str], int] | None = None,
) -> list[Utterance]:
    """Utterances with :class:`~affectkit.schema.Prosody` (and word prosody) filled in.

    ``speaking_rate`` is words per second of the utterance's span, ``syllable_rate`` syllables
    per second (``syllables(word_text)`` counts them, e.g. from the pronunciation dictionary),
    ``pause_before`` the silence since the previous utterance (of anyone) ended.
    """
    track = track or pitch_track(audio)
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    flat = word_prosody(audio, [w for u in ordered for w in u.words], track)
    out: list[Utterance] = []
    prev_end: float | None = None
    k = 0
    for u in ordered:
        words = flat[k : k + len(u.words)]
        k += len(u.words)
        pause = None if prev_end is None else round(max(0.0, u.start - prev_end), 3)
        pros = _span_prosody(audio, track, words, u.start, u.end, syllables, pause)
        out.append(u.model_copy(update={"words": words, "prosody": pros}))
        prev_end = u.end if prev_end is None else max(prev_end, u.end)
    return out


def voice_summaries(
    audio: np.ndarray,
    utterances: Sequence[Utterance],
    track: PitchTrack | None = None,
    syllables: Callable[[str], int] | None = None,
) -> dict[str, VoiceSummary]:
    """Per speaker label: speaking time (union of their utterances), turns (runs of
    consecutive utterances), words, questions, and prosody over all their words."""
    track = track or pitch_track(audio)
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    out: dict[str, VoiceSummary] = {}
    labels = [u.speaker for u in ordered if u.speaker]
    for spk in dict.fromkeys(labels):
        mine = [u for u in ordered if u.speaker == spk]
        spans: list[list[float]] = []
        for u in mine:
            if spans and u.start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], u.end)
            else:
                spans.append([u.start, u.end])
        talk = sum(e - s for s, e in spans)
        turns = sum(1 for k, u in enumerate(ordered) if u.speaker == spk and (k == 0 or ordered[k - 1].speaker != spk))
        words = [w for u in mine for w in u.words]
        pros = _span_prosody(audio, track, words, 0.0, talk, syllables, None)
        pros = pros.model_copy(update={
            "speaking_rate": round(len(words) / talk, 2) if talk > 0 and words else None,
            "syllable_rate": pros.syllable_rate,
        })
        out[spk] = VoiceSummary(
            speaking_time=round(talk, 3), turns=turns, words=len(words),
            questions=sum(1 for u in mine if u.is_question), prosody=pros,
        )
    return out
