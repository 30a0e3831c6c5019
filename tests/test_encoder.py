"""The CLIP AU/caption encoder, on a tiny randomly initialised CLIP built locally (no download).

Random weights give meaningless scores; these tests check the real loading path (the
``save_pretrained`` folder layout a user's checkpoint has), the prompt scoring arithmetic and
that events get CLIP evidence.
"""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.encoder.clip import AU_PROMPTS, EMOTIONS, ClipAUEncoder, annotate_events, make_tiny_clip
from affectkit.errors import ModelNotFoundError
from affectkit.schema import Timeline


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_tiny_checkpoint_loads_and_scores(tiny):
    enc = ClipAUEncoder(str(tiny))
    rng = np.random.default_rng(0)
    on = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    ap = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    s = enc.score_event(on, ap, ["AU12", "AU6"])
    assert set(s.au_rise) == set(AU_PROMPTS)
    assert all(-1.0 <= v <= 1.0 for v in s.au_rise.values())
    assert set(s.emotions) == set(EMOTIONS) and sum(s.emotions.values()) == pytest.approx(1.0, abs=1e-3)
    assert s.caption in {"a face with lip corners pulled up in a smile", "a face with raised cheeks and narrowed eyes"}
    same = enc.score_event(on, ap, ["AU12", "AU6"])
    assert same.au_rise == s.au_rise  # deterministic
    flat = enc.score_event(on, on, ["AU12"])
    assert all(v == 0.0 for v in flat.au_rise.values())  # no change from onset to apex, no rise
    emb = enc.embed_images([on, ap])
    assert emb.shape[0] == 2 and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_missing_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        ClipAUEncoder(str(tmp_path / "nope" / "model"))
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        ClipAUEncoder("someone/not-a-real-clip-model")


def test_events_get_clip_evidence(tiny, sample_analysis, sample_clip):
    tl = Timeline.from_jsonl(sample_analysis / "timeline.jsonl")
    face = [e for e in tl.events if e.modality == "face"]
    assert face
    n = annotate_events(tl, sample_clip, sample_analysis / "faces", str(tiny))
    assert n == len(face)
    for e in (e for e in tl.events if e.modality == "face"):
        assert e.emotion is not None and "clip" in (e.emotion.source or "")
        assert e.emotion.label == max(e.emotion.scores, key=e.emotion.scores.get)
        assert set(e.emotion.scores) == set(EMOTIONS)
