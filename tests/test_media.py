import json
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import make_video

from affectkit import media
from affectkit.errors import AffectkitError, MediaError

GRID_CLIPS = ["bbaf2n", "lgwg2n", "srwi3s", "pric4p"]


def container_frames(path: Path) -> tuple[int, list[float]]:
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    return len(times), times


@pytest.mark.parametrize("clip", GRID_CLIPS)
def test_probe_and_stream_grid(grid_dir, clip):
    path = grid_dir / "video" / f"{clip}.mpg"
    info = media.probe(path)
    assert (info.width, info.height) == (360, 288)
    assert info.fps == pytest.approx(25.0)
    assert info.has_audio and info.sample_rate == 44100
    assert info.duration == pytest.approx(2.98, abs=0.03)
    n_ref, t_ref = container_frames(path)
    chunks = list(media.iter_frames(path, chunk_size=16))
    assert all(len(c) <= 16 for c in chunks)
    times = np.concatenate([c.times for c in chunks])
    assert len(times) == n_ref == info.n_frames == 75
    assert np.allclose(times, np.array(t_ref) - t_ref[0], atol=1e-6)
    assert np.allclose(np.diff(times), 0.04, atol=1e-6)
    assert chunks[0].images.shape[1:] == (288, 360, 3) and chunks[0].images.dtype == np.uint8
    assert np.array_equal(np.concatenate([c.indices for c in chunks]), np.arange(75))


def test_stream_downscale_and_window(grid_dir):
    path = grid_dir / "video" / "bbaf2n.mpg"
    chunks = list(media.iter_frames(path, max_side=180, start=1.0, end=2.0))
    times = np.concatenate([c.times for c in chunks])
    assert chunks[0].images.shape[1:] == (144, 180, 3)
    assert times[0] == pytest.approx(1.0) and times[-1] == pytest.approx(1.96)
    assert len(times) == 25


def test_variable_frame_rate_times(tmp_path, shared_data):
    # a real VFR phone clip: timestamps must follow the container, not index/fps
    path = shared_data / "faces" / "face_noface.mov"
    info = media.probe(path)
    assert info.variable_frame_rate
    n_ref, t_ref = container_frames(path)
    times = np.concatenate([c.times for c in media.iter_frames(path, max_side=128)])
    assert len(times) == n_ref
    assert np.allclose(times, np.array(t_ref) - t_ref[0], atol=1e-6)
    assert np.diff(times).min() < 0.02 < 0.04 < np.diff(times).max()


def test_written_vfr_video_keeps_times(tmp_path):
    times = [0.0, 0.04, 0.1, 0.13, 0.3, 0.31, 0.5]
    path = make_video(tmp_path / "vfr.mp4", frames=len(times), times=times)
    got = np.concatenate([c.times for c in media.iter_frames(path)])
    assert np.allclose(got, times, atol=2e-3)


@pytest.mark.parametrize("clip", ["bbaf2n", "srwi3s"])
def test_audio_grid(grid_dir, clip):
    a = media.read_audio(grid_dir / "video" / f"{clip}.mpg")
    assert a.dtype == np.float32 and a.ndim == 1
    assert a.size / media.AUDIO_RATE == pytest.approx(2.98, abs=0.03)
    assert 0.05 < np.abs(a).max() <= 1.05
    # speech sits where the corpus alignment says: louder inside the words than in the lead-in silence
    words = json.loads((grid_dir / "words.json").read_text())[clip]["words"]
    s = next(w["start"] for w in words if w["word"] != "sil")
    e = [w["end"] for w in words if w["word"] != "sil"][-1]
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(a[int(s * 16000): int(e * 16000)]) > 5 * rms(a[: int((s - 0.2) * 16000)])


def test_audio_other_rate_and_stream(shared_data):
    a = media.read_audio(shared_data / "speech" / "jfk.flac", sample_rate=8000)
    assert a.size == 88000
    parts = list(media.iter_audio(shared_data / "speech" / "jfk.flac", chunk_seconds=2.0))
    assert all(p.size <= 32000 for p in parts) and sum(p.size for p in parts) == 176000


def test_synthetic_video_with_audio(tmp_path):
    path = make_video(tmp_path / "tone.mp4", frames=50, audio_seconds=2.0)
    info = media.probe(path)
    assert info.has_audio and info.n_frames == 50 and info.fps == pytest.approx(25)
    a = media.read_audio(path)
    assert a.size / 16000 == pytest.approx(2.0, abs=0.1)
    spec = np.abs(np.fft.rfft(a[4000:12000]))
    assert np.argmax(spec) * 16000 / 8000 == pytest.approx(440, abs=5)


def test_frames_at(grid_dir):
    path = grid_dir / "video" / "bbaf2n.mpg"
    got = media.frames_at(path, [0.0, 1.001, 2.5, 99.0])
    ref = {t: img for _, t, img in media.iter_frame_list(path)}
    assert np.array_equal(got[1.001], ref[1.0])
    assert np.array_equal(got[2.5], ref[2.48])
    assert np.array_equal(got[99.0], ref[2.96])


# ---------------------------------------------------------------- bad input
def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        media.probe(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        media.probe(empty)
    with pytest.raises(MediaError, match="folder"):
        media.probe(tmp_path)


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match="cannot be read as audio/video"):
        media.probe(p)
    with pytest.raises(AffectkitError):
        list(media.iter_frames(p))


def test_truncated_mp4(tmp_path):
    good = make_video(tmp_path / "good.mp4", frames=60)
    data = good.read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="corrupt, truncated"):
        media.probe(bad)
    with pytest.raises(MediaError):
        list(media.iter_frames(bad))


def test_truncated_mpeg_stream_decodes_what_is_there(tmp_path, grid_dir):
    data = (grid_dir / "video" / "bbaf2n.mpg").read_bytes()
    bad = tmp_path / "cut.mpg"
    bad.write_bytes(data[: len(data) // 2])
    n = sum(len(c) for c in media.iter_frames(bad))
    assert 20 < n < 75


def test_audio_only_file(tmp_path):
    p = tmp_path / "voice.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes())
    info = media.probe(p)
    assert not info.has_video and info.has_audio
    with pytest.raises(media.NoVideoError, match="no video stream"):
        media.require_video(info)
    with pytest.raises(media.NoVideoError):
        list(media.iter_frames(p))
    assert media.read_audio(p).size == 16000


def test_video_without_audio_is_a_warning(tmp_path, caplog):
    p = make_video(tmp_path / "silent.mp4", frames=10)
    with caplog.at_level("WARNING"):
        info = media.probe(p)
    assert not info.has_audio
    assert "no audio stream" in caplog.text
    with pytest.raises(media.NoAudioError, match="--no-speech"):
        media.read_audio(p)


def test_image_as_one_frame_video(shared_data):
    info = media.probe(shared_data / "faces" / "astronaut.png")
    assert info.n_frames == 1 and (info.width, info.height) == (512, 512)
    chunks = list(media.iter_frames(shared_data / "faces" / "astronaut.png"))
    assert len(chunks) == 1 and chunks[0].images.shape == (1, 512, 512, 3)


# ---------------------------------------------------------------- memory
STREAM_SCRIPT = """
import resource, sys
from affectkit import media
n = 0
for chunk in media.iter_frames(sys.argv[1], chunk_size=16):
    n += len(chunk)
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT, str(path)], capture_output=True, text=True, check=True)
    n, mb = out.stdout.split()
    return int(n), int(mb)


def test_streaming_memory_is_flat(tmp_path):
    """Peak RSS of streaming a 10x longer video stays within a few MB (frames are not held)."""
    short = make_video(tmp_path / "short.mp4", frames=60, size=(640, 360))
    long = make_video(tmp_path / "long.mp4", frames=600, size=(640, 360))
    n1, mb1 = _peak_mb(short)
    n2, mb2 = _peak_mb(long)
    assert (n1, n2) == (60, 600)
    # holding 600 frames of 640x360 RGB would add ~400 MB
    assert mb2 - mb1 < 25, (mb1, mb2)
