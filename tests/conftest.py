"""Shared fixtures. Tests that need ``../shared/data`` skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# tests never reach a model hub: every asset resolves from packages, caches or local files
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AFFECTKIT_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AFFECTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE_CLIP = REPO / "examples" / "sample_conversation.mp4"
SAMPLE_TIMELINE = Path(__file__).parent / "data" / "sample_timeline.jsonl"
"""The hand-made fixture timeline of the sample clip (built by tests/data/make_sample_timeline.py)."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real media with ground truth), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA} (set AFFECTKIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def grid_dir(shared_data: Path) -> Path:
    d = shared_data / "grid_s1"
    if not d.is_dir():
        pytest.skip(f"{d} missing")
    return d


@pytest.fixture(scope="session")
def sample_clip() -> Path:
    """The README's bundled sample conversation (committed in examples/)."""
    assert SAMPLE_CLIP.is_file(), "examples/sample_conversation.mp4 is missing from the repository"
    return SAMPLE_CLIP


def make_video(path: Path, frames: int = 20, size: tuple[int, int] = (64, 48), fps: float = 25.0,
               audio_seconds: float | None = None, times: list[float] | None = None) -> Path:
    """Write a small synthetic H.264 video (moving gradient), optionally with a 440 Hz tone."""
    from affectkit.media import VideoWriter

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    with VideoWriter(path, w, h, fps, audio_rate=16000 if audio_seconds else None,
                     variable_frame_rate=times is not None) as vw:
        for i in range(frames):
            img = np.stack([(xx * 4 + i * 7) % 256, (yy * 4) % 256, np.full_like(xx, (i * 13) % 256)], -1)
            vw.write(img.astype(np.uint8), None if times is None else times[i])
        if audio_seconds:
            t = np.arange(int(audio_seconds * 16000)) / 16000
            vw.write_audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return path


@pytest.fixture(scope="session")
def sample_analysis(tmp_path_factory, sample_clip) -> Path:
    """The bundled sample clip analysed once per test session by the real pipeline (output folder)."""
    from affectkit.pipeline import analyze

    out = tmp_path_factory.mktemp("sample_analysis")
    analyze(sample_clip, out, progress=False)
    return out


@pytest.fixture(scope="module")
def sample_timeline():
    """The hand-made fixture timeline of the sample clip (see tests/data/make_sample_timeline.py)."""
    from affectkit.schema import Timeline

    return Timeline.from_jsonl(SAMPLE_TIMELINE)
