"""Speech recognition on real audio (whisper tiny.en from its PyPI package, offline)."""

import itertools

import numpy as np
import pytest

from affectkit.errors import ConfigError, ModelNotFoundError
from affectkit.evaluation.speech_metrics import wer
from affectkit.media import read_audio
from affectkit.speech import asr

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."




@pytest.fixture(scope="module")
def jfk(shared_data):
    return read_audio(shared_data / "speech" / "jfk.flac")


def test_jfk_transcribes_to_its_known_text(jfk):
    r = asr.transcribe(jfk, beam_size=5)
    assert r.language == "en" and r.duration == pytest.approx(11.0, abs=0.1)
    assert wer(JFK, r.text).wer <= 0.10, r.text
    words = r.words
    assert all(w.aligned is False and 0 <= w.score <= 1 for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    americans = next(w for w in words if w.text.lower().startswith("americans"))
    assert abs(americans.start - 1.8) < 0.5


def test_model_is_loaded_once_and_cached():
    assert asr.load_model(None) is asr.load_model("tiny.en")


def test_silence_and_tone_give_no_words():
    assert asr.transcribe(np.zeros(16000 * 3, np.float32)).words == []
    t = np.arange(16000 * 3) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert asr.transcribe(tone).words == []


def test_bad_options():
    with pytest.raises(ConfigError, match="beam_size"):
        asr.transcribe(np.zeros(16000, np.float32), beam_size=0)
    with pytest.raises(ConfigError, match="1-D"):
        asr.transcribe(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ModelNotFoundError, match="large-v3"):
        asr.load_model("large-v3")
