"""The analysis pipeline: media -> faces (+ ROI flow) -> speech -> spotting -> fusion -> timeline.

Each stage lives in its own module; this file only wires them together, in order, and
writes the result atomically so a failed run never destroys an earlier ``timeline.jsonl``.

Output folder::

    OUTDIR/timeline.jsonl      the result (docs/timeline-format.md)
    OUTDIR/faces/              per-track feature store (docs/faces.md)
    OUTDIR/transcript.vtt      the transcript with speakers (when there is speech)
    OUTDIR/speakers.rttm       who spoke when
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, media
from .config import AnalysisConfig
from .errors import ConfigError
from .schema import AffectEvent, Person, Timeline

log = logging.getLogger(__name__)

TIMELINE_NAME = "timeline.jsonl"


class _WarningCollector(logging.Handler):
    """Collects warnings logged by affectkit during a run, for ``Timeline.meta['warnings']``."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg not in self.messages:
            self.messages.append(msg)


def _config(config: AnalysisConfig | dict[str, Any] | None, overrides: dict[str, Any]) -> AnalysisConfig:
    try:
        if config is None:
            return AnalysisConfig(**overrides)
        if isinstance(config, dict):
            return AnalysisConfig(**{**config, **overrides})
        return AnalysisConfig(**{**config.model_dump(), **overrides}) if overrides else config
    except Exception as exc:  # pydantic ValidationError
        raise ConfigError(f"invalid analysis options: {exc}") from exc


def analyze(
    video: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    config: AnalysisConfig | dict[str, Any] | None = None,
    **overrides: Any,
) -> Timeline:
    """Analyse ``video`` and write ``outdir/timeline.jsonl``.

    Args:
        video: a video file (any container FFmpeg reads).
        outdir: output folder (created); holds ``timeline.jsonl`` and per-stage files.
        config: an :class:`AnalysisConfig` (or a dict of its fields); keyword overrides win.

    Returns:
        The :class:`Timeline` that was written.
    """
    cfg = _config(config, overrides)
    out = Path(outdir)
    collector = _WarningCollector()
    pkg_logger = logging.getLogger("affectkit")
    pkg_logger.addHandler(collector)
    saved_level = pkg_logger.level
    if pkg_logger.getEffectiveLevel() > logging.WARNING:  # warnings are always recorded in the timeline
        pkg_logger.setLevel(logging.WARNING)
    t_start = time.perf_counter()
    stages: dict[str, float] = {}

    def timed(name: str, t0: float) -> None:
        stages[name] = round(time.perf_counter() - t0, 3)

    try:
        t0 = time.perf_counter()
        info = media.probe(video)
        media.require_video(info)
        spotter = _load_spotter(cfg)
        out.mkdir(parents=True, exist_ok=True)
        timed("probe", t0)

        faces = None
        if cfg.faces:
            t0 = time.perf_counter()
            faces = _run_faces(video, out, cfg)
            timed("faces", t0)

        speech = None
        if cfg.speech and info.has_audio:
            t0 = time.perf_counter()
            speech = _run_speech(video, out, info, cfg)
            timed("speech", t0)
        elif cfg.speech:
            log.warning("%s has no audio: speech analysis skipped (faces still analysed)", info.path)

        people, track_person = _people(faces, speech, cfg)
        events: list[AffectEvent] = []
        if faces is not None and faces.groups and cfg.spotting:
            t0 = time.perf_counter()
            from .face.store import FaceStore
            from .spotting.stage import spot_store

            segs = [(s, e) for s, e, _ in speech.speech_segments] if speech is not None else None
            events = spot_store(FaceStore(faces.store_dir), info.fps or 25.0, track_person,
                                speech_segments=segs, spotter=spotter)
            timed("spotting", t0)

        timeline = Timeline(media=info, people=people, utterances=speech.utterances if speech else [], events=events)
        t0 = time.perf_counter()
        from .fusion import contextualize

        timeline = contextualize(timeline, speech.speech_segments if speech else [])
        timed("fusion", t0)
        if cfg.clip_model and timeline.events:
            t0 = time.perf_counter()
            from .encoder.clip import annotate_events

            annotate_events(timeline, video, faces.store_dir if faces else None, cfg.clip_model)
            timed("encoder", t0)
        stages["total"] = round(time.perf_counter() - t_start, 3)
        timeline.meta = {
            "affectkit_version": __version__,
            "config": cfg.model_dump(mode="json"),
            "stage_seconds": stages,
            "warnings": list(collector.messages) + [w for w in (speech.warnings if speech else [])
                                                     if w not in collector.messages],
        }
        timeline.to_jsonl(out / TIMELINE_NAME)
        log.info("wrote %s in %.1f s", out / TIMELINE_NAME, stages["total"])
        return timeline
    finally:
        pkg_logger.removeHandler(collector)
        pkg_logger.setLevel(saved_level)


def _load_spotter(cfg: AnalysisConfig):  # noqa: ANN202
    if cfg.spotter is None:
        return None
    from .spotting.regressor import LearnedSpotter

    return LearnedSpotter.load(cfg.spotter)


def _run_faces(video: str | os.PathLike[str], out: Path, cfg: AnalysisConfig):  # noqa: ANN202
    from .face.stage import run_faces

    consumers = []
    if cfg.spotting:
        from .spotting.features import RoiFlowExtractor

        consumers.append(RoiFlowExtractor())
    return run_faces(
        video,
        out,
        max_faces=cfg.max_faces,
        model_path=cfg.face_model,
        chunk_size=cfg.chunk_size,
        max_side=cfg.max_side,
        consumers=consumers,
        progress=cfg.progress,
    )


def _run_speech(video: str | os.PathLike[str], out: Path, info, cfg: AnalysisConfig):  # noqa: ANN001, ANN202
    from .speech import SpeechConfig, run_speech
    from .speech.transcripts import write_rttm, write_transcript

    audio = media.read_audio(video)
    scfg = SpeechConfig(
        whisper_model=cfg.whisper_model,
        language=cfg.language,
        beam_size=cfg.beam_size,
        threads=cfg.threads,
        transcript=cfg.transcript,
        grammar=cfg.grammar,
        diarizer=cfg.diarizer,
        num_speakers=cfg.num_speakers,
        align=cfg.align,
        roles={k: v for k, v in (cfg.roles or {}).items() if not k.startswith("P")} or None,
    )
    res = run_speech(audio, scfg, duration=info.duration, progress=cfg.progress)
    if res.utterances:
        write_transcript(res.utterances, out / "transcript.vtt")
        write_rttm(res.speech_segments, out / "speakers.rttm", file_id=Path(info.path).stem)
    return res


def _people(faces, speech, cfg: AnalysisConfig) -> tuple[list[Person], dict[int, str]]:  # noqa: ANN001
    """One person per face identity (linked to a voice when one matches) plus one per unlinked voice."""
    from .fusion import FaceActivity, link_faces_to_voices

    groups = faces.persons() if faces is not None else []
    links: dict[int, tuple[str, float]] = {}
    if groups and speech is not None and speech.speakers:
        from .face.store import FaceStore
        from .spotting.masks import mouth_activity

        store = FaceStore(faces.store_dir)
        acts = []
        for k, tracks in enumerate(groups):
            d = [store.load(t, ["time", "aus"]) for t in tracks]
            times = np.concatenate([x["time"] for x in d])
            order = np.argsort(times)
            aus = np.concatenate([x["aus"] for x in d])[order]
            acts.append(FaceActivity(k, times[order], mouth_activity(aus, times[order])))
        links = link_faces_to_voices(acts, speech.speech_segments, speech.speakers)
    roles_by_label = dict(speech.roles) if speech is not None else {}
    voice = speech.voice_summaries if speech is not None else {}
    people: list[Person] = []
    track_person: dict[int, str] = {}
    for k, tracks in enumerate(groups):
        pid = f"P{k + 1}"
        label, conf = links.get(k, (None, None))
        people.append(Person(
            id=pid,
            face_track_ids=tracks,
            speaker_label=label,
            role=roles_by_label.get(label, "unknown") if label else "unknown",  # type: ignore[arg-type]
            face_summary=faces.summaries[faces.groups[tracks[0]]],
            voice_summary=voice.get(label) if label else None,
            link_confidence=conf,
        ))
        for t in tracks:
            track_person[t] = pid
    linked = {lab for lab, _ in links.values()}
    for label in (speech.speakers if speech is not None else []):
        if label not in linked:
            people.append(Person(id=f"P{len(people) + 1}", speaker_label=label,
                                 role=roles_by_label.get(label, "unknown"),  # type: ignore[arg-type]
                                 voice_summary=voice.get(label)))
    for pid, role in (cfg.roles or {}).items():  # overrides by person id
        for p in people:
            if p.id == pid:
                p.role = role  # type: ignore[assignment]
    return people, track_person
