"""Speaker encoder (our LSTM on resemblyzer's weights) and diarization on real audio."""

import wave

import numpy as np
import pytest

from affectkit.errors import ConfigError, ModelNotFoundError
from affectkit.evaluation.speech_metrics import der
from affectkit.media import read_audio
from affectkit.schema import Word
from affectkit.speech import diarize as dz
from affectkit.speech import encoder as enc
from affectkit.speech.transcripts import read_rttm


def _stereo(path):
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return x.astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def stereo(shared_data):
    return _stereo(shared_data / "speech" / "stereo_diarization.wav")


def test_mel_filterbank_is_slaney_and_tones_land_in_the_right_band():
    fb = enc.mel_filterbank()
    assert fb.shape == (40, 201) and (fb >= 0).all()
    # Slaney normalisation: each triangle's area (in Hz) is 1
    assert np.allclose(fb.sum(1) * 40.0, 1.0, atol=0.08)  # 40 Hz per FFT bin at n_fft 400
    t = np.arange(16000) / 16000
    low = enc.mel_frames(np.sin(2 * np.pi * 300 * t).astype(np.float32)).mean(0)
    high = enc.mel_frames(np.sin(2 * np.pi * 3000 * t).astype(np.float32)).mean(0)
    assert np.argmax(low) < 10 and np.argmax(high) > 25
    assert enc.mel_frames(np.zeros(1600, np.float32)).shape == (11, 40)


def test_encoder_loads_strictly_and_separates_speakers(stereo, shared_data):
    e = enc.get_encoder()
    assert sum(p.numel() for p in e.net.parameters()) > 1_400_000
    left, right = stereo[:, 0], stereo[:, 1]
    half = left.size // 2
    l1, l2 = e.embed_utterance(left[:half]), e.embed_utterance(left[half:])
    r = e.embed_utterance(right)
    assert np.linalg.norm(l1) == pytest.approx(1.0, abs=1e-5)
    assert l1 @ l2 > l1 @ r + 0.1 and l1 @ l2 > l2 @ r + 0.1
    jfk = read_audio(shared_data / "speech" / "jfk.flac")
    j1, j2 = e.embed_utterance(jfk[: jfk.size // 2]), e.embed_utterance(jfk[jfk.size // 2 :])
    assert j1 @ j2 > 0.8 and j1 @ j2 > max(j1 @ r, j1 @ l1) + 0.2


def test_encoder_rejects_a_wrong_checkpoint(tmp_path):
    import torch

    bad = tmp_path / "bad.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": torch.zeros(3, 3)}}, bad)
    with pytest.raises(ModelNotFoundError, match="3-layer LSTM"):
        enc.SpeakerEncoder(str(bad))


def test_cluster_embeddings_synthetic():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=256), rng.normal(size=256)
    x = np.stack([a + 0.3 * rng.normal(size=256) for _ in range(10)] + [b + 0.3 * rng.normal(size=256) for _ in range(6)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    lab = dz.cluster_embeddings(x, num_speakers=None, threshold=0.5)
    assert len(set(lab[:10])) == 1 and len(set(lab[10:])) == 1 and lab[0] != lab[10]
    assert set(dz.cluster_embeddings(x, num_speakers=1, threshold=0.5)) == {0}
    assert len(set(dz.cluster_embeddings(x, num_speakers=3, threshold=0.5))) == 3


def test_sample_conversation_der(shared_data):
    audio = read_audio(shared_data / "diarization" / "sample.wav")
    ref = read_rttm(shared_data / "diarization" / "sample.rttm")
    d = dz.diarize(audio, num_speakers=2)
    assert d.labels == ["SPEAKER_00", "SPEAKER_01"]
    r = der(ref, d.segments)
    assert r.der <= 0.15, f"DER {r.der:.3f}"
    assert r.mapping == {"SPEAKER_00": "speaker90", "SPEAKER_01": "speaker91"}
    auto = dz.diarize(audio)
    assert 2 <= len(auto.labels) <= 3 and der(ref, auto.segments).der <= 0.20


def test_stereo_mixed_to_mono_finds_both_speakers(stereo):
    d = dz.diarize(stereo.mean(axis=1), num_speakers=2)
    assert d.labels == ["SPEAKER_00", "SPEAKER_01"]
    talk = {lab: sum(e - s for s, e, l in d.segments if l == lab) for lab in d.labels}
    assert min(talk.values()) > 1.0
    # only the left speaker talks after ~2.7 s: that stretch is one speaker, not the opening one
    late = d.speakers_at(3.0, 4.6)
    early = d.speakers_at(0.3, 1.8)
    assert max(late, key=late.get) != max(early, key=early.get)


def test_assign_speakers_covers_every_word():
    d = dz.Diarization([(0.0, 2.0, "A"), (1.5, 4.0, "B"), (6.0, 8.0, "A")], ["A", "B"])
    words = [Word(text=t, start=s, end=e) for t, s, e in
             [("one", 0.1, 0.5), ("two", 1.6, 2.5), ("three", 4.3, 4.6), ("four", 5.5, 5.8), ("five", 9.5, 9.9)]]
    got = [w.speaker for w in dz.assign_speakers(words, d)]
    assert got == ["A", "B", "B", "A", "A"]


def test_no_speech_and_bad_options():
    assert dz.diarize(np.zeros(16000 * 2, np.float32)).segments == []
    with pytest.raises(ConfigError, match="num_speakers"):
        dz.diarize(np.zeros(16000, np.float32), num_speakers=0)


def test_pyannote_backend_needs_its_package():
    pytest.importorskip("numpy")
    try:
        import pyannote.audio  # noqa: F401
    except ImportError:
        with pytest.raises(ModelNotFoundError, match="pip install pyannote.audio"):
            dz.diarize_pyannote(np.zeros(16000, np.float32))
    else:  # pragma: no cover - needs a hub token and a connection
        pytest.skip("pyannote.audio is installed; its pipeline needs a hub token and network")
