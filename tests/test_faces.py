"""Face stage on real media: landmarks, tracking, AUs, pose, the feature store."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from affectkit import media
from affectkit.face import aus
from affectkit.face.landmarks import N_LANDMARKS, FaceLandmarker
from affectkit.face.stage import run_faces
from affectkit.face.store import FaceStore
from affectkit.pipeline import analyze
from affectkit.schema import Timeline


def _frames(path, n=None):
    out = [img.copy() for _, _, img in media.iter_frame_list(path)]
    return out[:n] if n else out


def _write(path, frames, fps=25.0):
    h, w = frames[0].shape[:2]
    with media.VideoWriter(path, w, h, fps, crf=18) as vw:
        for f in frames:
            vw.write(f)
    return path


def test_single_face_one_track_covering_the_clip(shared_data, tmp_path):
    res = run_faces(shared_data / "faces" / "single_face.mp4", tmp_path, progress=False)
    assert res.n_frames == 72
    assert len(res.persons()) == 1
    (tracks,) = res.persons()
    s = res.summaries[res.groups[tracks[0]]]
    assert s.frames == 72 and s.first_seen == 0.0 and s.last_seen == pytest.approx(2.3667, abs=1e-3)
    store = FaceStore(tmp_path / "faces")
    d = store.load(tracks[0])
    assert d["landmarks"].shape == (72, N_LANDMARKS, 3)
    assert d["blendshapes"].shape == (72, 52) and d["aus"].shape == (72, len(aus.AU_NAMES))
    assert d["pose"].shape == (72, 3) and d["matrix"].shape == (72, 4, 4)
    assert np.all(np.diff(d["time"]) > 0) and np.array_equal(d["frame"], np.arange(72))
    # landmarks lie inside their bbox, which lies inside the 640x360 frame
    assert np.all(d["bbox"][:, 0] >= 0) and np.all(d["bbox"][:, 2] <= 640)
    assert np.all(d["landmarks"][:, :, 0] >= d["bbox"][:, [0]] - 1e-3)


def test_no_face_gives_no_person_and_a_warning(shared_data, tmp_path):
    tl = analyze(shared_data / "faces" / "no_face.mp4", tmp_path, speech=False, progress=False)
    assert tl.people == []
    assert any("no face found" in w for w in tl.meta["warnings"])
    assert Timeline.from_jsonl(tmp_path / "timeline.jsonl").people == []


def test_face_then_no_face_track_only_where_the_face_is(shared_data, tmp_path):
    res = run_faces(shared_data / "faces" / "face_noface.mov", tmp_path, progress=False)
    assert len(res.persons()) == 1
    frames = np.load(tmp_path / "faces" / "frames.npz")
    seen = frames["time"][frames["faces"] > 0]
    store = FaceStore(tmp_path / "faces")
    t = np.concatenate([store.load(tid, ["time"])["time"] for tid in res.persons()[0]])
    assert 2.2 < t.max() < 2.6 and frames["time"].max() > 6.0  # the face leaves; the video goes on
    assert set(np.round(t, 4)) <= set(np.round(seen, 4)) and len(t) >= len(seen) - 2


@pytest.fixture(scope="module")
def two_speakers(shared_data):
    a = _frames(shared_data / "grid_s1" / "video" / "bbaf2n.mpg")
    b = _frames(shared_data / "grid_others" / "brbk7n.mpg")
    return a, b


@pytest.mark.parametrize("other", ["brbk7n", "pwij3p"])  # a woman; a man who looks much like s1
def test_two_faces_swapping_sides_after_a_cut_keep_their_ids(shared_data, other, tmp_path):
    a = _frames(shared_data / "grid_s1" / "video" / "bbaf2n.mpg")
    b = _frames(shared_data / "grid_others" / f"{other}.mpg")
    frames = [np.concatenate([a[i], b[i]], 1) for i in range(50)]  # A left, B right
    frames += [np.concatenate([b[i], a[i]], 1) for i in range(50, 75)]  # cut: B left, A right
    frames += [np.concatenate([a[74 - i], b[74 - i]], 1) for i in range(25)]  # cut back
    video = _write(tmp_path / "swap.mp4", frames)
    res = run_faces(video, tmp_path / "out", progress=False)
    persons = res.persons()
    assert len(persons) == 2
    store = FaceStore(tmp_path / "out" / "faces")
    sides = []
    for tracks in persons:
        d = {k: np.concatenate([store.load(t, ["time", "bbox"])[k] for t in tracks]) for k in ("time", "bbox")}
        order = np.argsort(d["time"])
        cx = (d["bbox"][order, 0] + d["bbox"][order, 2]) / 2
        tt = d["time"][order]
        assert len(tt) == 100  # seen in every frame
        sides.append([np.mean(cx[(tt >= lo) & (tt < hi)] < 360) for lo, hi in ((0, 2), (2, 3), (3, 4))])
    # one person is left-right-left, the other right-left-right, every frame
    assert sorted(map(tuple, sides)) == [(0.0, 1.0, 0.0), (1.0, 0.0, 1.0)]


def test_face_returning_after_a_gap_is_reidentified(two_speakers, tmp_path):
    a, _ = two_speakers
    blank = np.full_like(a[0], 90)
    frames = a[:30] + [blank] * 40 + a[30:75]  # 1.6 s without any face, then the same person
    video = _write(tmp_path / "gap.mp4", frames)
    res = run_faces(video, tmp_path / "out", progress=False)
    assert len(res.persons()) == 1
    s = next(iter(res.summaries.values()))
    assert s.frames == 75 and s.last_seen == pytest.approx(114 * 0.04)


def test_occluded_face_keeps_its_track(two_speakers, tmp_path):
    a, _ = two_speakers
    frames = [f.copy() for f in a]
    for f in frames[30:38]:  # a hand-sized grey block over the face for 0.32 s
        f[60:260, 100:260] = 128
    video = _write(tmp_path / "occl.mp4", frames)
    res = run_faces(video, tmp_path / "out", progress=False)
    assert len(res.groups) == 1 and len(res.persons()) == 1


def test_astronaut_smiles_and_grid_speaker_is_neutral(shared_data, tmp_path):
    res = run_faces(shared_data / "faces" / "astronaut.png", tmp_path / "a", progress=False)
    assert res.n_frames == 1
    # a one-frame video is too short to be a track; read the observation directly
    img = next(media.iter_frame_list(shared_data / "faces" / "astronaut.png"))[2]
    grid = next(media.iter_frame_list(shared_data / "grid_s1" / "video" / "bbaf2n.mpg"))[2]
    with FaceLandmarker(max_faces=1) as lm:
        smile = lm.detect(img, 0.0)[0]
    with FaceLandmarker(max_faces=1) as lm:
        neutral = lm.detect(grid, 0.0)[0]
    a_s = aus.blendshapes_to_aus(smile.blendshapes, smile.landmarks)
    a_n = aus.blendshapes_to_aus(neutral.blendshapes, neutral.landmarks)
    i12, i6 = aus.AU_INDEX["AU12"], aus.AU_INDEX["AU6"]
    assert a_s[i12] > 0.6 and a_n[i12] < 0.1
    assert a_s[i6] > 0.2 and a_n[i6] < 0.05
    assert aus.emotion_label(aus.emotion_scores(a_s, smile.blendshapes)) == "happiness"
    assert aus.emotion_label(aus.emotion_scores(a_n, neutral.blendshapes)) == "neutral"


def test_head_pose_conventions(shared_data):
    img = next(media.iter_frame_list(shared_data / "faces" / "astronaut.png"))[2]
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((256, 256), 15, 1.0), (512, 512))  # counter-clockwise
    with FaceLandmarker(max_faces=1) as lm:
        p0 = aus.head_pose(lm.detect(img, 0.0)[0].matrix)
    with FaceLandmarker(max_faces=1) as lm:
        p1 = aus.head_pose(lm.detect(rot, 0.0)[0].matrix)
    with FaceLandmarker(max_faces=1) as lm:
        pf = aus.head_pose(lm.detect(np.ascontiguousarray(img[:, ::-1]), 0.0)[0].matrix)
    assert p1.roll - p0.roll == pytest.approx(15, abs=3)
    assert pf.roll == pytest.approx(-p0.roll, abs=1.5)
    assert abs(p0.yaw) < 8 and abs(p0.roll) < 8


def test_head_pose_from_known_rotation():
    def rot(yaw, pitch, roll):
        y, p, r = np.radians([yaw, -pitch, roll])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
        rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        m = np.eye(4)
        m[:3, :3] = ry @ rx @ rz
        return m

    for ypr in [(20, -10, 5), (-35, 15, -12), (0, 0, 0)]:
        p = aus.head_pose(rot(*ypr))
        assert (p.yaw, p.pitch, p.roll) == pytest.approx(ypr, abs=1e-6)


def test_au_mapping_and_emotion_rules():
    from affectkit.face.landmarks import BLENDSHAPE_INDEX

    bs = np.zeros(52, np.float32)
    bs[BLENDSHAPE_INDEX["browInnerUp"]] = 0.6
    bs[BLENDSHAPE_INDEX["browOuterUpLeft"]] = 0.5
    bs[BLENDSHAPE_INDEX["browOuterUpRight"]] = 0.7
    bs[BLENDSHAPE_INDEX["eyeWideLeft"]] = bs[BLENDSHAPE_INDEX["eyeWideRight"]] = 0.5
    bs[BLENDSHAPE_INDEX["jawOpen"]] = 0.5
    a = aus.blendshapes_to_aus(bs)
    assert a[aus.AU_INDEX["AU1"]] == pytest.approx(0.6)
    assert a[aus.AU_INDEX["AU2"]] == pytest.approx(0.6)
    assert a[aus.AU_INDEX["AU26"]] == pytest.approx(0.5)
    assert aus.emotion_label(aus.emotion_scores(a, bs)) == "surprise"
    sad = np.zeros(len(aus.AU_NAMES), np.float32)
    sad[[aus.AU_INDEX[x] for x in ("AU1", "AU4", "AU15")]] = [0.4, 0.5, 0.3]
    assert aus.emotion_label(aus.emotion_scores(sad)) == "sadness"
    # a one-sided smile without cheek raise reads as contempt
    bs2 = np.zeros(52, np.float32)
    bs2[BLENDSHAPE_INDEX["mouthSmileLeft"]] = 0.6
    bs2[BLENDSHAPE_INDEX["mouthDimpleLeft"]] = 0.2
    assert aus.emotion_label(aus.emotion_scores(aus.blendshapes_to_aus(bs2), bs2)) == "contempt"
    assert aus.blink_intervals(np.array([0, 0.7, 0.8, 0.2, 0, 0.9, 0.9]), np.arange(7) * 0.1) == [
        (pytest.approx(0.1), pytest.approx(0.3))
    ]


def test_pipeline_people_and_store_index(sample_clip, tmp_path):
    tl = analyze(sample_clip, tmp_path, speech=False, progress=False, max_faces=2)
    assert [p.id for p in tl.people] == ["P1", "P2"]
    for p in tl.people:
        assert p.face_summary.coverage == pytest.approx(1.0, abs=0.01)
    idx = json.loads((tmp_path / "faces" / "index.json").read_text())
    assert idx["format"] == 1 and set(idx["fields"]) >= {"landmarks", "aus", "pose", "emotion"}
    assert sorted(int(k) for k in idx["tracks"]) == sorted(t for p in tl.people for t in p.face_track_ids)
    parts = list((tmp_path / "faces").glob("track_*_part_*.npz"))
    assert all(len(np.load(p)["time"]) <= 256 for p in parts)  # bounded parts: memory stays flat


def test_video_without_audio_still_gets_its_faces(shared_data, tmp_path):
    frames = _frames(shared_data / "grid_s1" / "video" / "bbaf2n.mpg")[:40]
    video = _write(tmp_path / "mute.mp4", frames)
    tl = analyze(video, tmp_path / "out", progress=False)  # speech on by default
    assert len(tl.people) == 1 and tl.people[0].face_summary.frames == 40
    assert tl.utterances == [] and not tl.media.has_audio
    assert any("no audio" in w for w in tl.meta["warnings"])
