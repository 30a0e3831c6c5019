import json
import subprocess
import sys

import pytest
from conftest import make_video

from affectkit import __version__
from affectkit.cli import main
from affectkit.schema import Timeline


def test_version(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--version"])
    assert ei.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "affectkit", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"affectkit {__version__}"


def test_doctor_json(capsys, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_OFFLINE", "1")
    assert main(["doctor", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert any(a["asset"] == "face_landmarker" and a["ok"] for a in rep["assets"])


def test_analyze_writes_timeline_and_bad_input_keeps_it(tmp_path, capsys):
    video = make_video(tmp_path / "v.mp4", frames=30, audio_seconds=1.2)
    out = tmp_path / "out"
    assert main(["analyze", str(video), "-o", str(out), "--no-speech", "--no-faces", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "1.20 s" in printed and "timeline written" in printed
    tl = Timeline.from_jsonl(out / "timeline.jsonl")
    assert tl.media.n_frames == 30 and tl.media.has_audio
    before = (out / "timeline.jsonl").read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    assert main(["analyze", str(bad), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert (out / "timeline.jsonl").read_bytes() == before


def test_bad_option_is_a_clear_error(tmp_path, capsys):
    video = make_video(tmp_path / "v.mp4", frames=5)
    assert main(["analyze", str(video), "-o", str(tmp_path / "o"), "--max-faces", "0", "-q"]) == 2
    assert "max_faces" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "analyze" in capsys.readouterr().out
