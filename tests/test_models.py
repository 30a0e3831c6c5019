import pytest

from affectkit import models
from affectkit.errors import ModelNotFoundError


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFFECTKIT_OFFLINE", "1")
    for a in models.ASSETS.values():
        monkeypatch.delenv(a.env_var, raising=False)


def test_packaged_assets_resolve_offline():
    r = models.resolve("face_landmarker")
    assert r.source == "package" and r.path.name == "face_landmarker.task" and r.path.stat().st_size > 1_000_000
    w = models.resolve("whisper")
    assert w.source == "package" and (w.path / "model.bin").is_file()


def test_explicit_path_wins_and_missing_explicit_path_fails(tmp_path, monkeypatch):
    f = tmp_path / "my.task"
    f.write_bytes(b"x" * 10)
    r = models.resolve("face_landmarker", f)
    assert r.source == "explicit" and r.path == f.resolve()
    monkeypatch.setenv("AFFECTKIT_FACE_LANDMARKER", str(f))
    assert models.resolve("face_landmarker").source == "explicit"
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        models.resolve("face_landmarker", tmp_path / "absent.task")


def test_cache_beats_package(tmp_path):
    d = models.cache_dir()
    d.mkdir(parents=True)
    (d / "face_landmarker.task").write_bytes(b"cached")
    r = models.resolve("face_landmarker")
    assert r.source == "cache" and r.path.read_bytes() == b"cached"


def test_error_names_every_source():
    with pytest.raises(ModelNotFoundError) as ei:
        models.resolve("whisper", "large-v3")
    msg = str(ei.value)
    for needle in ("explicit name 'large-v3'", "cache:", "download from https://huggingface.co/Systran/faster-whisper-large-v3",
                   "offline mode", "AFFECTKIT_WHISPER_MODEL"):
        assert needle in msg
    with pytest.raises(ModelNotFoundError, match="unknown model asset"):
        models.resolve("nope")


def test_clip_hub_name_is_handed_to_loader():
    r = models.resolve("clip", "openai/clip-vit-base-patch32")
    assert r.source == "hub-name" and r.path == "openai/clip-vit-base-patch32"


def test_doctor_report_shape():
    rep = models.doctor_report()
    byname = {a["asset"]: a for a in rep["assets"]}
    assert byname["face_landmarker"]["ok"] and byname["face_landmarker"]["source"] == "package"
    assert not byname["clip"]["ok"] and "no PyPI package" in byname["clip"]["detail"]
    assert rep["packages"]["numpy"] is not None and rep["offline_mode"] is True
