"""The data contract every stage speaks (pydantic v2 models).

Times are float seconds from the start of the media; frame indices are internal and
appear only inside ``evidence``. ``Timeline`` is the one result object: it is written
as JSON Lines (see ``docs/timeline-format.md``) and read back exactly.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import TimelineFormatError

FORMAT_VERSION = 1
"""Version of the JSONL timeline format written by :meth:`Timeline.to_jsonl`."""

Role = Literal["interviewer", "interviewee", "unknown"]
Modality = Literal["face", "voice"]
EventKind = Literal[
    "micro_expression",
    "macro_expression",
    "pitch_peak",
    "energy_peak",
    "long_pause",
]
AUEvidence = Literal["blendshape", "flow", "clip"]


class _Model(BaseModel):
    """Shared config: forbid unknown keys so typos in files fail loudly, reject NaN/inf."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=False)


def _check_span(start: float, end: float, what: str) -> None:
    if end < start:
        raise ValueError(f"{what}: end ({end}) is before start ({start})")


class MediaInfo(_Model):
    """What :func:`affectkit.media.probe` learns about a file."""

    path: str
    duration: float = Field(ge=0, description="seconds")
    fps: float = Field(ge=0, description="average frame rate; 0 when there is no video")
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    n_frames: int | None = Field(default=None, ge=0, description="frames (container count or estimate)")
    has_video: bool = True
    has_audio: bool = False
    sample_rate: int | None = Field(default=None, description="native audio sample rate, Hz")
    audio_channels: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    variable_frame_rate: bool = False
    size_bytes: int | None = None


class WordProsody(_Model):
    """Prosody of one word. Pitch in Hz (None where unvoiced), energy in dBFS."""

    pitch_median: float | None = None
    pitch_range: float | None = None
    energy_db: float | None = None
    pause_before: float | None = Field(default=None, ge=0, description="silence before the word, seconds")


class Prosody(_Model):
    """Prosody of an utterance (or a speaker's whole speech)."""

    pitch_median: float | None = None
    pitch_range: float | None = None
    energy_db: float | None = None
    speaking_rate: float | None = Field(default=None, description="words per second")
    syllable_rate: float | None = Field(default=None, description="syllables per second")
    pause_before: float | None = Field(default=None, ge=0, description="silence before the utterance, seconds")


class Word(_Model):
    """One word with its timing. ``aligned`` says whether forced alignment placed it
    (False: the times come from ASR or the given transcript unchanged)."""

    text: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    speaker: str | None = None
    score: float | None = Field(default=None, description="confidence 0-1 (ASR probability or alignment score)")
    aligned: bool | None = None
    prosody: WordProsody | None = None

    @model_validator(mode="after")
    def _span(self) -> "Word":
        _check_span(self.start, self.end, f"word {self.text!r}")
        return self


class Utterance(_Model):
    """A stretch of speech by one speaker."""

    id: str
    speaker: str | None = None
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    words: list[Word] = Field(default_factory=list)
    prosody: Prosody | None = None
    is_question: bool | None = None

    @model_validator(mode="after")
    def _span(self) -> "Utterance":
        _check_span(self.start, self.end, f"utterance {self.id}")
        return self


class HeadPose(_Model):
    """Head rotation in degrees (yaw: left/right, pitch: up/down, roll: tilt)."""

    yaw: float
    pitch: float
    roll: float


class FaceSummary(_Model):
    """Per-person summary of the face stage."""

    frames: int = Field(ge=0)
    first_seen: float = Field(ge=0)
    last_seen: float = Field(ge=0)
    coverage: float = Field(ge=0, le=1, description="share of the video's frames where the face was seen")
    mean_aus: dict[str, float] = Field(default_factory=dict, description="mean intensity 0-1 per AU")
    emotion_share: dict[str, float] = Field(default_factory=dict, description="share of frames per emotion")
    dominant_emotion: str | None = None
    blinks: int = 0
    blink_rate_per_min: float | None = None
    mean_head_pose: HeadPose | None = None
    head_pose_std: HeadPose | None = None


class VoiceSummary(_Model):
    """Per-person summary of the speech stage."""

    speaking_time: float = Field(ge=0)
    turns: int = Field(ge=0)
    words: int = Field(ge=0)
    questions: int = 0
    prosody: Prosody | None = None


class Person(_Model):
    """One identity across face and voice."""

    id: str
    face_track_ids: list[int] = Field(default_factory=list)
    speaker_label: str | None = None
    role: Role = "unknown"
    face_summary: FaceSummary | None = None
    voice_summary: VoiceSummary | None = None
    link_confidence: float | None = Field(default=None, description="confidence of the face-voice link, 0-1")


class AUActivation(_Model):
    """One action unit that moved, with how strongly (0-1) and what saw it."""

    au: str = Field(pattern=r"^AU\d+$")
    name: str
    intensity: float = Field(ge=0, le=1)
    evidence: AUEvidence
    side: Literal["left", "right", "both"] | None = None


class EmotionEstimate(_Model):
    """An emotion label with scores over the labels considered."""

    label: str
    scores: dict[str, float] = Field(default_factory=dict)
    source: str | None = Field(default=None, description="rule set or model that produced it")


class EventContext(_Model):
    """Where an event sits in the conversation."""

    state: Literal["speaking", "listening", "silent", "unknown"] = "unknown"
    speaker_at_apex: str | None = Field(default=None, description="person id of who was speaking at the apex")
    words: list[Word] = Field(default_factory=list, description="words within a window around the apex")
    reacts_to: str | None = Field(default=None, description="utterance id the event most likely reacts to")
    reacts_to_text: str | None = None
    reacts_to_speaker: str | None = None


class EventEvidence(_Model):
    """What the event rests on, for inspection."""

    track_id: int | None = None
    onset_frame: int | None = None
    apex_frame: int | None = None
    offset_frame: int | None = None
    rois: dict[str, float] = Field(default_factory=dict, description="ROI name -> share of the motion")
    scores: dict[str, float] = Field(default_factory=dict, description="named evidence scores")
    detector: str | None = None


class AffectEvent(_Model):
    """A timestamped affect event of one person."""

    id: str
    person: str
    start: float = Field(ge=0)
    apex: float = Field(ge=0)
    end: float = Field(ge=0)
    modality: Modality
    kind: EventKind
    aus: list[AUActivation] = Field(default_factory=list)
    emotion: EmotionEstimate | None = None
    caption: str | None = None
    confidence: float = Field(ge=0, le=1)
    context: EventContext | None = None
    evidence: EventEvidence | None = None

    @model_validator(mode="after")
    def _order(self) -> "AffectEvent":
        _check_span(self.start, self.end, f"event {self.id}")
        if not (self.start <= self.apex <= self.end):
            raise ValueError(f"event {self.id}: apex {self.apex} outside [{self.start}, {self.end}]")
        return self

    @property
    def duration(self) -> float:
        return self.end - self.start


class Timeline(_Model):
    """The result of an analysis: media, people, utterances (with words) and events."""

    media: MediaInfo
    people: list[Person] = Field(default_factory=list)
    utterances: list[Utterance] = Field(default_factory=list)
    events: list[AffectEvent] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, description="versions, config, warnings")

    @field_validator("meta")
    @classmethod
    def _json_meta(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meta must be plain JSON: {exc}") from exc
        return v

    # ------------------------------------------------------------------ queries
    def person(self, person_id: str) -> Person | None:
        """The person with this id, or None."""
        return next((p for p in self.people if p.id == person_id), None)

    def person_for_speaker(self, speaker_label: str) -> Person | None:
        """The person whose voice carries this diarization label, or None."""
        return next((p for p in self.people if p.speaker_label == speaker_label), None)

    def utterances_between(self, start: float, end: float, speaker: str | None = None) -> list[Utterance]:
        """Utterances overlapping ``[start, end]`` (optionally of one speaker label)."""
        return [
            u
            for u in self.utterances
            if u.end >= start and u.start <= end and (speaker is None or u.speaker == speaker)
        ]

    def events_between(
        self, start: float, end: float, person: str | None = None, kind: str | None = None
    ) -> list[AffectEvent]:
        """Events overlapping ``[start, end]``, optionally of one person and kind."""
        return [
            e
            for e in self.events
            if e.end >= start
            and e.start <= end
            and (person is None or e.person == person)
            and (kind is None or e.kind == kind)
        ]

    def words_between(self, start: float, end: float) -> list[Word]:
        """Words overlapping ``[start, end]``, in time order."""
        out = [w for u in self.utterances for w in u.words if w.end >= start and w.start <= end]
        return sorted(out, key=lambda w: (w.start, w.end))

    def utterance_at(self, t: float) -> Utterance | None:
        """The utterance in progress at time ``t`` (the latest-starting one if several)."""
        hits = [u for u in self.utterances if u.start <= t <= u.end]
        return max(hits, key=lambda u: u.start) if hits else None

    def find_phrase(self, phrase: str) -> list[tuple[Utterance, float, float]]:
        """Occurrences of ``phrase`` (case- and punctuation-insensitive) as
        ``(utterance, start, end)``; times come from the words when they match."""
        target = _norm_tokens(phrase)
        if not target:
            return []
        hits: list[tuple[Utterance, float, float]] = []
        for u in self.utterances:
            toks = [_norm_tokens(w.text) for w in u.words]
            flat = [(t, i) for i, ts in enumerate(toks) for t in ts]
            found = False
            for k in range(len(flat) - len(target) + 1):
                if [t for t, _ in flat[k : k + len(target)]] == target:
                    w0, w1 = u.words[flat[k][1]], u.words[flat[k + len(target) - 1][1]]
                    hits.append((u, w0.start, w1.end))
                    found = True
            if not found and " ".join(target) in " ".join(_norm_tokens(u.text)):
                hits.append((u, u.start, u.end))
        return hits

    def window(self, start: float, end: float) -> "Timeline":
        """A copy holding only the utterances and events that overlap ``[start, end]``."""
        return self.model_copy(
            update={
                "utterances": self.utterances_between(start, end),
                "events": self.events_between(start, end),
            },
            deep=True,
        )

    # ------------------------------------------------------------------ JSONL
    def iter_jsonl_records(self) -> Iterator[dict[str, Any]]:
        """The JSON records of the JSONL format, in file order."""
        head = {"type": "media", "format_version": FORMAT_VERSION}
        head.update(self.media.model_dump(mode="json"))
        head["meta"] = self.meta
        yield head
        for p in self.people:
            yield {"type": "person", **p.model_dump(mode="json")}
        for u in self.utterances:
            yield {"type": "utterance", **u.model_dump(mode="json")}
        for e in self.events:
            yield {"type": "event", **e.model_dump(mode="json")}

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write the timeline as JSON Lines, atomically (a temp file, then rename), so a
        failure never leaves a half-written file in place of an earlier one."""
        from .io import atomic_write_text

        text = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in self.iter_jsonl_records())
        return atomic_write_text(Path(path), text)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], source: str = "<records>") -> "Timeline":
        """Build a timeline from JSONL records (see :meth:`iter_jsonl_records`)."""
        media: MediaInfo | None = None
        meta: dict[str, Any] = {}
        people: list[Person] = []
        utts: list[Utterance] = []
        events: list[AffectEvent] = []
        for n, rec in enumerate(records, 1):
            if not isinstance(rec, dict) or "type" not in rec:
                raise TimelineFormatError(f"{source}: line {n} is not an object with a 'type' field")
            rec = dict(rec)
            kind = rec.pop("type")
            try:
                if kind == "media":
                    if n != 1:
                        raise TimelineFormatError(f"{source}: the 'media' record must be the first line (found on line {n})")
                    version = rec.pop("format_version", None)
                    if version != FORMAT_VERSION:
                        raise TimelineFormatError(
                            f"{source}: timeline format version {version!r} is not supported "
                            f"(this affectkit reads version {FORMAT_VERSION}); re-run `affectkit analyze`"
                        )
                    meta = rec.pop("meta", {}) or {}
                    media = MediaInfo.model_validate(rec)
                elif media is None:
                    raise TimelineFormatError(f"{source}: line {n}: the first line must be the 'media' record")
                elif kind == "person":
                    people.append(Person.model_validate(rec))
                elif kind == "utterance":
                    utts.append(Utterance.model_validate(rec))
                elif kind == "event":
                    events.append(AffectEvent.model_validate(rec))
                else:
                    raise TimelineFormatError(f"{source}: line {n}: unknown record type {kind!r}")
            except ValidationError as exc:
                raise TimelineFormatError(f"{source}: line {n} ({kind}) is invalid: {exc}") from exc
        if media is None:
            raise TimelineFormatError(f"{source}: no 'media' record (empty file?)")
        return cls(media=media, people=people, utterances=utts, events=events, meta=meta)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> "Timeline":
        """Read a timeline written by :meth:`to_jsonl`."""
        p = Path(path)
        if p.is_dir():
            p = p / "timeline.jsonl"
        if not p.is_file():
            raise TimelineFormatError(f"{p}: no such timeline file; run `affectkit analyze VIDEO -o OUTDIR` first")

        def records() -> Iterator[dict[str, Any]]:
            with p.open("r", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise TimelineFormatError(f"{p}: line {n} is not valid JSON: {exc}") from exc

        return cls.from_records(records(), source=str(p))


def _norm_tokens(text: str) -> list[str]:
    """Lower-case word tokens with punctuation removed."""
    import re

    return re.findall(r"[a-z0-9']+", text.lower())


def finite(x: float, default: float = 0.0) -> float:
    """``x`` as a plain float, or ``default`` when it is NaN or infinite."""
    x = float(x)
    return x if math.isfinite(x) else default
