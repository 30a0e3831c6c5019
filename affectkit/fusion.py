"""Fusion: one person across face and voice, and every event in its conversational context.

* **Face-voice linking** (active-speaker detection): for each face identity and each
  diarized speaker, the Pearson correlation between the face's mouth activity (frame-to-frame
  change of lip parting and jaw opening) and that speaker's voice activity, over the frames
  where the face is visible. One Hungarian assignment links faces to voices; a link needs a
  correlation of at least :data:`MIN_LINK_CORRELATION`. Voices with no face become people
  without face tracks (an off-screen interviewer); faces with no voice, people without a voice.
* **Event context**: for each face event, whether the person was speaking or listening at the
  apex, who was speaking, the words within a window around the apex, and the utterance it most
  likely reacts to (the latest utterance of someone else that started before the apex and ended
  at most :data:`REACTION_WINDOW` seconds before it).
* **Voice events** from prosody: a word's pitch or energy well above its speaker's usual
  level (``pitch_peak``, ``energy_peak``) and long pauses before a turn (``long_pause``).
* **Confidence** combines the evidence: the spotter's confidence, raised when the blendshape
  AUs agree with the flow AUs, lowered when the motion sits in the mouth while the person speaks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .schema import AffectEvent, EventContext, Person, Timeline, Utterance, Word

log = logging.getLogger(__name__)

MIN_LINK_CORRELATION = 0.15
REACTION_WINDOW = 4.0
CONTEXT_WORDS_WINDOW = 1.5
PITCH_PEAK_SEMITONES = 4.0
MAX_PITCH_SEMITONES = 11.0
"""larger jumps are pitch-tracking octave errors, not voice events"""
ENERGY_PEAK_DB = 6.0
LONG_PAUSE_SECONDS = 1.5
MOUTH_ROIS = ("lipcorner_r", "lipcorner_l", "upper_lip", "lower_lip", "chin")


@dataclass
class FaceActivity:
    """Mouth activity of one face identity: ``times (T,)`` seconds, ``activity (T,)``."""

    person_key: int
    times: np.ndarray
    activity: np.ndarray


def voice_activity(times: np.ndarray, segments: list[tuple[float, float, str]], label: str) -> np.ndarray:
    """``(T,) float`` 1 where ``label`` speaks at each time, else 0."""
    v = np.zeros(len(times), np.float32)
    for s, e, who in segments:
        if who == label:
            v[(times >= s) & (times <= e)] = 1.0
    return v


def link_faces_to_voices(
    faces: list[FaceActivity], segments: list[tuple[float, float, str]], speakers: list[str]
) -> dict[int, tuple[str, float]]:
    """``{face person_key: (speaker label, link confidence)}`` by mouth-voice correlation."""
    if not faces or not speakers:
        return {}
    corr = np.zeros((len(faces), len(speakers)))
    for i, f in enumerate(faces):
        a = f.activity - f.activity.mean()
        for j, lab in enumerate(speakers):
            v = voice_activity(f.times, segments, lab)
            v = v - v.mean()
            den = float(np.linalg.norm(a) * np.linalg.norm(v))
            corr[i, j] = float(a @ v / den) if den > 1e-9 else 0.0
    rows, cols = linear_sum_assignment(-corr)
    out: dict[int, tuple[str, float]] = {}
    for r, c in zip(rows, cols):
        if corr[r, c] < MIN_LINK_CORRELATION:
            continue
        others = [corr[r, k] for k in range(len(speakers)) if k != c] + [corr[k, c] for k in range(len(faces)) if k != r]
        margin = corr[r, c] - (max(others) if others else 0.0)
        conf = float(np.clip(0.5 * corr[r, c] + 0.5 * np.clip(margin, 0, 1) + 0.2, 0.0, 1.0))
        out[faces[r].person_key] = (speakers[c], round(conf, 3))
        log.info("face %d <-> voice %s (r=%.2f, margin %.2f)", faces[r].person_key, speakers[c], corr[r, c], margin)
    return out


def _speaker_person(people: list[Person]) -> dict[str, str]:
    return {p.speaker_label: p.id for p in people if p.speaker_label}


def _speaking_at(t: float, segments: list[tuple[float, float, str]], slack: float = 0.15) -> set[str]:
    return {lab for s, e, lab in segments if s - slack <= t <= e + slack}


def event_context(
    ev: AffectEvent,
    people: list[Person],
    utterances: list[Utterance],
    segments: list[tuple[float, float, str]],
) -> EventContext:
    """Speaking/listening state, speaker at the apex, nearby words and the utterance reacted to."""
    by_label = _speaker_person(people)
    me = next((p for p in people if p.id == ev.person), None)
    my_label = me.speaker_label if me else None
    speaking = _speaking_at(ev.apex, segments)
    others = sorted(by_label.get(lab, lab) for lab in speaking if lab != my_label)
    if my_label is not None and my_label in speaking:
        state = "speaking"
    elif others:
        state = "listening"
    elif segments or utterances:
        state = "silent"
    else:
        state = "unknown"
    speaker_at_apex = (ev.person if state == "speaking" else (others[0] if others else None))
    words = [
        Word(text=w.text, start=w.start, end=w.end, speaker=by_label.get(w.speaker or "", w.speaker), score=w.score,
             aligned=w.aligned)
        for u in utterances for w in u.words
        if w.end >= ev.apex - CONTEXT_WORDS_WINDOW and w.start <= ev.apex + CONTEXT_WORDS_WINDOW
    ][:20]
    cands = [
        u for u in utterances
        if u.speaker != my_label and u.start <= ev.apex and u.end >= ev.apex - REACTION_WINDOW
    ]
    reacts = max(cands, key=lambda u: u.start) if cands else None
    return EventContext(
        state=state,
        speaker_at_apex=speaker_at_apex,
        words=words,
        reacts_to=reacts.id if reacts else None,
        reacts_to_text=reacts.text if reacts else None,
        reacts_to_speaker=by_label.get(reacts.speaker or "", reacts.speaker) if reacts else None,
    )


def combined_confidence(ev: AffectEvent) -> float:
    """Spotter confidence, raised by agreeing blendshape AUs, lowered for mouth motion in speech."""
    c = ev.confidence
    flow = {a.au for a in ev.aus if a.evidence == "flow"}
    bs = {a.au for a in ev.aus if a.evidence == "blendshape"}
    if flow & bs:
        c = 1 - (1 - c) * 0.6
    if ev.context is not None and ev.context.state == "speaking" and ev.evidence is not None:
        mouth = sum(v for k, v in ev.evidence.rois.items() if k in MOUTH_ROIS)
        if mouth >= 0.5:
            c *= 0.6
    return round(float(min(max(c, 0.0), 1.0)), 3)


def _semitones(f: float, ref: float) -> float:
    return 12.0 * math.log2(f / ref) if f > 0 and ref > 0 else 0.0


def voice_events(people: list[Person], utterances: list[Utterance]) -> list[AffectEvent]:
    """``pitch_peak``, ``energy_peak`` and ``long_pause`` events from word and utterance prosody."""
    by_label = _speaker_person(people)
    out: list[AffectEvent] = []
    words_by: dict[str, list[Word]] = {}
    for u in utterances:
        for w in u.words:
            if u.speaker:
                words_by.setdefault(u.speaker, []).append(w)
    for label, words in words_by.items():
        person = by_label.get(label, label)
        pitches = [w.prosody.pitch_median for w in words if w.prosody and w.prosody.pitch_median]
        energies = [w.prosody.energy_db for w in words if w.prosody and w.prosody.energy_db is not None]
        p_ref = float(np.median(pitches)) if len(pitches) >= 5 else None
        e_ref = float(np.median(energies)) if len(energies) >= 5 else None
        for w in words:
            pr = w.prosody
            if pr is None:
                continue
            if (p_ref and pr.pitch_median
                    and PITCH_PEAK_SEMITONES <= _semitones(pr.pitch_median, p_ref) <= MAX_PITCH_SEMITONES):
                st = _semitones(pr.pitch_median, p_ref)
                out.append(_voice_event(person, w, "pitch_peak", min(1.0, st / 8.0),
                                        f"Pitch rose to {pr.pitch_median:.0f} Hz on '{w.text}' "
                                        f"(+{st:.1f} semitones over the speaker's median)"))
            if e_ref is not None and pr.energy_db is not None and pr.energy_db - e_ref >= ENERGY_PEAK_DB:
                db = pr.energy_db - e_ref
                out.append(_voice_event(person, w, "energy_peak", min(1.0, db / 12.0),
                                        f"Louder on '{w.text}' (+{db:.1f} dB over the speaker's median)"))
    for u in utterances:
        pr = u.prosody
        if pr is not None and pr.pause_before is not None and pr.pause_before >= LONG_PAUSE_SECONDS and u.speaker:
            start = max(0.0, u.start - pr.pause_before)
            out.append(AffectEvent(
                id="", person=by_label.get(u.speaker, u.speaker), start=round(start, 4),
                apex=round((start + u.start) / 2, 4), end=round(u.start, 4), modality="voice", kind="long_pause",
                caption=f"Paused {pr.pause_before:.1f} s before saying \"{u.text[:60]}\"",
                confidence=round(min(1.0, pr.pause_before / 4.0), 3),
            ))
    return out


def _voice_event(person: str, w: Word, kind: str, conf: float, caption: str) -> AffectEvent:
    return AffectEvent(
        id="", person=person, start=round(w.start, 4), apex=round((w.start + w.end) / 2, 4), end=round(w.end, 4),
        modality="voice", kind=kind, caption=caption, confidence=round(conf, 3),  # type: ignore[arg-type]
    )


def contextualize(timeline: Timeline, segments: list[tuple[float, float, str]]) -> Timeline:
    """Add voice events, put every event in context, combine confidences and number the events."""
    events = list(timeline.events) + voice_events(timeline.people, timeline.utterances)
    out = []
    for ev in sorted(events, key=lambda e: (e.start, e.person, e.kind)):
        ctx = event_context(ev, timeline.people, timeline.utterances, segments)
        ev = ev.model_copy(update={"context": ctx})
        if ev.modality == "face":
            ev = ev.model_copy(update={"confidence": combined_confidence(ev)})
        out.append(ev)
    for i, ev in enumerate(out):
        ev.id = f"e{i}"
    timeline.events = out
    return timeline
