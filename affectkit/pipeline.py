"""The analysis pipeline: media -> faces -> spotting -> speech -> fusion -> timeline.jsonl.

Each stage lives in its own module; this file only wires them together, in order, and
writes the result atomically so a failed run never destroys an earlier ``timeline.jsonl``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from . import __version__, media
from .config import AnalysisConfig
from .errors import ConfigError
from .schema import Person, Timeline

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
        return config.model_copy(update=overrides) if overrides else config
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
    t_start = time.perf_counter()
    try:
        info = media.probe(video)
        media.require_video(info)
        out.mkdir(parents=True, exist_ok=True)
        stages: dict[str, float] = {"probe": time.perf_counter() - t_start}
        people: list[Person] = []
        if cfg.faces:
            t0 = time.perf_counter()
            people = _face_people(video, out, cfg)
            stages["faces"] = time.perf_counter() - t0
        timeline = Timeline(media=info, people=people)
        timeline.meta = {
            "affectkit_version": __version__,
            "config": cfg.model_dump(mode="json"),
            "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
            "warnings": list(collector.messages),
        }
        timeline.to_jsonl(out / TIMELINE_NAME)
        log.info("wrote %s in %.1f s", out / TIMELINE_NAME, time.perf_counter() - t_start)
        return timeline
    finally:
        pkg_logger.removeHandler(collector)


def _face_people(video: str | os.PathLike[str], out: Path, cfg: AnalysisConfig) -> list[Person]:
    """Run the face stage; one :class:`Person` per face identity, ordered by first appearance."""
    from .face.stage import run_faces

    res = run_faces(
        video,
        out,
        max_faces=cfg.max_faces,
        model_path=cfg.face_model,
        chunk_size=cfg.chunk_size,
        max_side=cfg.max_side,
        progress=cfg.progress,
    )
    people = []
    for k, tracks in enumerate(res.persons(), 1):
        people.append(Person(id=f"P{k}", face_track_ids=tracks, face_summary=res.summaries[res.groups[tracks[0]]]))
    return people
