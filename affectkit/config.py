"""Options of an analysis run, in one validated object (shared by the CLI and the Python API)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["interviewer", "interviewee", "unknown"]


class AnalysisConfig(BaseModel):
    """Everything :func:`affectkit.pipeline.analyze` can be told."""

    model_config = ConfigDict(extra="forbid")

    # media
    chunk_size: int = Field(32, ge=1, le=1024, description="frames decoded per chunk (memory bound)")
    max_side: int | None = Field(1280, ge=64, description="downscale frames with a longer side (None: native)")
    # faces
    faces: bool = Field(True, description="run the face stage")
    max_faces: int = Field(4, ge=1, le=32, description="most faces tracked at once")
    face_model: str | None = Field(None, description="path to face_landmarker.task (default: resolved)")
    # speech
    speech: bool = Field(True, description="run the speech stage when there is audio")
    transcript: Path | None = Field(None, description="use this transcript instead of ASR")
    whisper_model: str | None = Field(None, description="faster-whisper model name or path (default tiny.en)")
    grammar: str | None = Field(None, description="JSGF grammar file: grammar-constrained recognition instead of ASR")
    language: str | None = Field(None, description="spoken language code (None: model default / detect)")
    num_speakers: int | None = Field(None, ge=1, le=20, description="known number of speakers")
    diarizer: Literal["resemblyzer", "pyannote", "none"] = Field("resemblyzer", description="who-spoke-when backend")
    beam_size: int = Field(5, ge=1, le=20, description="ASR beam width")
    align: bool = Field(True, description="refine word times by forced alignment")
    roles: dict[str, Role] | None = Field(
        None, description="role overrides: person id (P1) or speaker label (SPEAKER_00) -> role"
    )
    # spotting
    spotting: bool = Field(True, description="spot micro- and macro-expressions")
    spotter: Path | None = Field(None, description="trained spotter checkpoint (default: classical decoder)")
    # encoder
    clip_model: str | None = Field(None, description="CLIP checkpoint path or hub name (opt-in)")
    # misc
    threads: int = Field(0, ge=0, description="CPU threads for models (0: library default)")
    progress: bool = Field(True, description="show progress bars")

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, v):  # noqa: ANN001, ANN206
        """Accept ``"P1=interviewer,SPEAKER_01=interviewee"`` as well as a dict."""
        if isinstance(v, str):
            from .speech.roles import parse_roles

            return parse_roles(v)
        return v
