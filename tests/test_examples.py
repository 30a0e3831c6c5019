"""The runnable examples, run as scripts (fast ones only: no full analysis of the sample clip).

agent_over_video.py and interview_report.py run over the hand-made fixture timeline
(tests/data/sample_timeline.jsonl) with no chat model configured, so their LLM is the scripted
GenericFakeChatModel they fall back to (the only test double). enrich_dataset.py runs the real
pipeline on a tiny synthetic video with the face and speech stages off.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from affectkit.schema import Timeline

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
from conftest import SAMPLE_TIMELINE


def _run(
    script: str, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AFFECTKIT_CHAT_MODEL"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )


def _tiny_video(path: Path, frames: int) -> Path:
    """A small synthetic H.264 video (moving gradient, no audio)."""
    import numpy as np

    from affectkit.media import VideoWriter

    yy, xx = np.mgrid[0:48, 0:64]
    with VideoWriter(path, 64, 48, 25.0) as vw:
        for i in range(frames):
            vw.write(
                np.stack([(xx * 4 + i * 7) % 256, (yy * 4) % 256, np.full_like(xx, i * 13)], -1).astype(
                    np.uint8
                )
            )
    return path


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_agent_over_video_with_the_scripted_model(tmp_path, sample_timeline):
    out = tmp_path / "analysis"
    sample_timeline.to_jsonl(out / "timeline.jsonl")
    proc = _run("agent_over_video.py", str(out), "-q", "Who reacted to what?")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "running a scripted GenericFakeChatModel" in text
    assert "Question: Who reacted to what?" in text
    assert '-> list_affect_events({"kind": "face", "min_confidence": 0.5})' in text
    assert '-> describe_moment({"t": 10.52})' in text  # the most confident facial event, e1
    answer = text.split("Answer:\n", 1)[1]
    assert (
        "- P1 at 2.16 s (e0): brief inner and outer brow raise while listening, reacting to P2: "
        '"bin red by k seven now"; confidence 0.78' in answer
    )
    assert "(e1)" in answer and "(e4)" in answer and "(e5)" not in answer  # e5 is below 0.5


@pytest.mark.skipif(_installed("langchain"), reason="langchain is installed: init_chat_model would be used")
def test_agent_over_video_explains_a_missing_langchain(tmp_path, sample_timeline):
    sample_timeline.to_jsonl(tmp_path / "timeline.jsonl")
    proc = _run(
        "agent_over_video.py", str(tmp_path), env_extra={"AFFECTKIT_CHAT_MODEL": "openai:gpt-4o-mini"}
    )
    assert proc.returncode == 2
    assert "needs langchain's init_chat_model: pip install langchain" in proc.stderr


def test_interview_report_per_person(tmp_path):
    proc = _run(
        "interview_report.py", "--timeline", str(SAMPLE_TIMELINE), "--outdir", str(tmp_path / "unused")
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "written by a template from the tool results" in text
    assert "# Interview report: sample_conversation.mp4 (24.06 s)" in text
    p1, p2 = text.split("## P1 (interviewee)")[1].split("## P2 (interviewer)")
    assert "interviewee; 6 turns, 8.41 s of speech, 0 questions." in p1
    assert '"bin blue at f two now" (3.95 s)' in p1 and "and 3 more turns" in p1
    assert "brief inner and outer brow raise [AU1, AU2] at 2.16 s (e0, confidence 0.78)" in p1
    assert "interviewer; 2 turns, 2.84 s of speech, 2 questions." in p2
    assert "smile: cheeks raised, lip corners pulled up [AU12, AU6] at 10.52 s (e1" in p2
    assert "low-confidence events left out: e5." in p2
    assert not (tmp_path / "unused").exists()  # a given timeline is not re-analysed


def test_enrich_dataset_is_resumable_and_records_failures(tmp_path, sample_timeline):
    videos = tmp_path / "videos"
    (videos / "day2").mkdir(parents=True)
    _tiny_video(videos / "day2" / "fresh.mp4", frames=10)
    shutil.copy2(REPO / "examples" / "sample_conversation.mp4", videos / "done.mp4")
    (videos / "broken.mp4").write_text("not a video\n")
    (videos / "notes.txt").write_text("ignored: not a video suffix\n")
    out = tmp_path / "out"
    sample_timeline.to_jsonl(out / "done" / "timeline.jsonl")  # analysed before: must be skipped
    before = (out / "done" / "timeline.jsonl").stat().st_mtime_ns

    first = _run("enrich_dataset.py", str(videos), str(out), "--workers", "2", "--no-faces", "--no-speech")
    assert first.returncode == 1, first.stderr  # one video failed
    assert "3 videos: 1 analysed, 1 skipped (valid timeline already there), 1 failed" in first.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": 2, "failed": 1}
    videos_rec = manifest["videos"]
    assert set(videos_rec) == {"broken", "done", "day2__fresh"}
    assert videos_rec["broken"]["status"] == "failed" and videos_rec["broken"]["error"].startswith(
        "MediaError:"
    )
    assert (
        videos_rec["day2__fresh"]["status"] == "done"
        and videos_rec["day2__fresh"]["video"] == "day2/fresh.mp4"
    )
    assert Timeline.from_jsonl(out / "day2__fresh").media.n_frames == 10
    assert (out / "done" / "timeline.jsonl").stat().st_mtime_ns == before
    assert "analysing" in first.stderr  # the progress bar

    second = _run("enrich_dataset.py", str(videos), str(out), "--workers", "1", "--no-faces", "--no-speech")
    assert second.returncode == 1
    assert "3 videos: 0 analysed, 2 skipped (valid timeline already there), 1 failed" in second.stdout
    again = json.loads((out / "manifest.json").read_text())["videos"]
    assert again["day2__fresh"]["seconds"] == videos_rec["day2__fresh"]["seconds"]  # kept, not re-run

    # a corrupt timeline is not "done": it is analysed again
    (out / "day2__fresh" / "timeline.jsonl").write_text("garbage\n")
    third = _run("enrich_dataset.py", str(videos), str(out), "--workers", "1", "--no-faces", "--no-speech")
    assert "1 analysed, 1 skipped" in third.stdout
    assert Timeline.from_jsonl(out / "day2__fresh").media.n_frames == 10


@pytest.mark.skipif(_installed("ray"), reason="ray is installed")
def test_enrich_dataset_explains_a_missing_ray(tmp_path):
    (tmp_path / "v").mkdir()
    proc = _run("enrich_dataset.py", str(tmp_path / "v"), str(tmp_path / "o"), "--ray")
    assert proc.returncode == 2
    assert "--ray needs the ray package: pip install 'affectkit[ray]'" in proc.stderr
    assert not (tmp_path / "o").exists()
