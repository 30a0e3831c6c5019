"""The expression-injection benchmark: plans, warps, videos, truth files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from affectkit.errors import AffectkitError, ConfigError
from affectkit.evaluation.metrics import Interval, classify_kind
from affectkit.evaluation.synth import (
    DEFAULT_AUS,
    ExpressionSpec,
    InjectedExpression,
    SynthConfig,
    SynthError,
    TruthFormatError,
    _subset,
    build_injected_video,
    displacement_field,
    emotion_for,
    inject_into_video,
    make_benchmark,
    parse_aus,
    plan_events,
    plan_injected_video,
    profile_weight,
    read_truth_csv,
    warp_face,
    write_truth_csv,
)

CLIPS = ["bbaf2n", "lgwg2n"]


# ---------------------------------------------------------------- no media needed


def test_profile_is_smooth_positive_inside_and_zero_outside():
    on, a0, a1, off = 10, 16, 20, 27
    w = [profile_weight(n, on, a0, a1, off) for n in range(40)]
    assert all(x == 0 for x in w[:on]) and all(x == 0 for x in w[off + 1 :])
    assert all(0 < x <= 1 for x in w[on : off + 1])
    assert w[a0] == w[a1] == 1.0 and all(x == 1.0 for x in w[a0 : a1 + 1])
    assert all(b > a for a, b in zip(w[on:a0], w[on + 1 : a0 + 1]))  # rises
    assert all(b < a for a, b in zip(w[a1:off], w[a1 + 1 : off + 1]))  # falls
    assert max(abs(b - a) for a, b in zip(w, w[1:])) < 0.45  # no jumps


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_plans_are_valid_and_deterministic(seed):
    fps, clips = 25.0, [75] * 6
    cfg = SynthConfig(seed=seed, n_micro=3, n_macro=3)
    ev = plan_events(clips, fps, cfg, np.random.default_rng(seed), "v")
    again = plan_events(clips, fps, cfg, np.random.default_rng(seed), "v")
    assert ev == again
    louder = plan_events(clips, fps, replace(cfg, amplitude=2.0), np.random.default_rng(seed), "v")
    assert [(e.onset, e.offset, e.aus) for e in louder] == [(e.onset, e.offset, e.aus) for e in ev]
    assert [e.amplitude for e in louder] == pytest.approx([2 * e.amplitude for e in ev])
    assert sum(e.kind == "me" for e in ev) == 3 and sum(e.kind == "mae" for e in ev) == 3
    gap = int(np.ceil(cfg.min_gap * fps))
    for a, b in zip(ev, ev[1:]):
        assert b.onset > a.offset + gap  # ordered, no overlap, a gap between
    for e in ev:
        clip = e.onset // 75
        assert e.offset // 75 == clip  # never across a cut
        assert e.onset - 75 * clip >= cfg.cut_margin and 75 * (clip + 1) - 1 - e.offset >= cfg.cut_margin
        assert e.onset <= e.apex_start <= e.apex <= e.apex_end <= e.offset
        lo, hi = cfg.micro_duration if e.kind == "me" else cfg.macro_duration
        assert lo - 1e-9 <= e.duration_s <= hi + 1e-9
        assert classify_kind(e.onset, e.offset, fps) == e.kind
        assert e.aus in DEFAULT_AUS and e.emotion == emotion_for(e.aus)
        base = cfg.micro_amplitude if e.kind == "me" else cfg.macro_amplitude
        assert base * 0.8 - 1e-12 <= e.amplitude <= base * 1.2 + 1e-12


def test_different_seeds_give_different_plans():
    plans = {
        tuple(
            (e.onset, e.aus)
            for e in plan_events([75] * 6, 25.0, SynthConfig(seed=s), np.random.default_rng(s), "v")
        )
        for s in range(5)
    }
    assert len(plans) == 5


def test_impossible_plans_and_bad_configs_raise():
    with pytest.raises(SynthError, match="cannot place"):
        plan_events([75], 25.0, SynthConfig(n_micro=4, n_macro=2), np.random.default_rng(0), "v")
    with pytest.raises(SynthError, match="does not fit"):
        plan_events(
            [40],
            25.0,
            SynthConfig(n_micro=0, n_macro=1, macro_duration=(1.8, 2.0)),
            np.random.default_rng(0),
            "v",
        )
    for bad in (
        dict(micro_duration=(0.2, 0.6)),
        dict(macro_duration=(0.4, 2.0)),
        dict(amplitude=-1),
        dict(aus=("AU99",)),
        dict(n_clips=0),
    ):
        with pytest.raises(ConfigError):
            SynthConfig(**bad).validate()
    assert parse_aus("au1+AU2") == ["AU1", "AU2"]
    assert emotion_for("AU6+AU12") == "happiness" and emotion_for("AU15") == "sadness"
    assert (
        emotion_for("AU1+AU2") == "surprise"
        and emotion_for("AU4") == "anger"
        and emotion_for("AU7") == "others"
    )


def _event(video: str, onset: int, offset: int, kind: str, aus: str = "AU12") -> InjectedExpression:
    apex = (onset + offset) // 2
    return InjectedExpression(video, onset, apex, offset, apex, apex, kind, aus, emotion_for(aus), 0.04, 25.0)


def test_truth_csv_round_trip(tmp_path):
    ev = [
        _event("b", 100, 140, "mae", "AU1+AU2"),
        _event("a", 10, 17, "me"),
        _event("a", 50, 90, "mae", "AU4"),
    ]
    path = write_truth_csv(tmp_path / "t.csv", ev)
    text = path.read_text()
    assert text.splitlines()[0] == "subject,video,onset,apex,offset,type,aus,emotion"
    assert "s1,a,10,13,17,me,AU12,happiness" in text
    truth = read_truth_csv(path)
    assert truth == {
        "a": [Interval(10, 17, 13, "me", "happiness"), Interval(50, 90, 70, "mae", "anger")],
        "b": [Interval(100, 140, 120, "mae", "surprise")],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("video,onset\nv,1\n", "missing column"),
        ("video,onset,offset\nv,a,3\n", "line 2: onset 'a' is not a frame number"),
        ("video,onset,offset\nv,1,3\nv,5,2\n", "line 3: offset 2 is before onset 5"),
        ("video,onset,offset\nv,1.5,3\n", "whole frame"),
        ("video,onset,apex,offset\nv,1,9,3\n", "apex 9 is outside"),
        ("video,onset,offset,type\nv,1,3,blink\n", "unknown expression kind"),
        ("video,onset,offset\n,1,3\n", "empty video name"),
        ("video,onset,offset\nv,1,3,4\n", "more fields"),
    ],
)
def test_malformed_truth_csv_raises_clear_errors(tmp_path, body, message):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(TruthFormatError, match=message):
        read_truth_csv(p)


def test_missing_truth_file_is_an_affectkit_error(tmp_path):
    with pytest.raises(AffectkitError, match="no such truth file"):
        read_truth_csv(tmp_path / "nope.csv")


def test_truth_csv_accepts_megc_spellings(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(
        "Subject,Video,Onset,Apex,Offset,Type,AUs,Emotion\n1,EP01,5,-,20,macro-expression,AU4,negative\n"
        "1,EP01,1,0,3,,,\n1,EP01,30,40,50,,,\n"
    )
    t = read_truth_csv(p)["EP01"]
    assert t == [Interval(1, 3), Interval(5, 20, None, "mae", "negative"), Interval(30, 50, 40)]


# ---------------------------------------------------------------- real faces


@pytest.fixture(scope="module")
def lm_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmarks")


@pytest.fixture(scope="module")
def face_frame(grid_dir):
    """One GRID frame and its full landmarks."""
    from affectkit.face.landmarks import FaceLandmarker
    from affectkit.media import iter_frame_list

    with FaceLandmarker(max_faces=1) as lm:
        for n, t, img in iter_frame_list(grid_dir / "video" / "bbaf2n.mpg"):
            faces = lm.detect(img, t)
            if n == 8:
                return img.copy(), faces[0].landmarks, faces[0].bbox
    raise AssertionError("unreachable")


@pytest.mark.parametrize("au", DEFAULT_AUS)
def test_warp_is_local_to_the_au_region(face_frame, au):
    img, lms, bbox = face_frame
    w = float(np.linalg.norm(lms[454, :2] - lms[234, :2]))
    eye_y, nose_y, mouth_y = lms[[33, 133, 362, 263], 1].mean(), lms[1, 1], lms[[61, 291], 1].mean()
    out = warp_face(img, lms, au, 0.04)
    assert out.shape == img.shape and out.dtype == np.uint8
    d = np.abs(out.astype(int) - img.astype(int)).sum(2).astype(float)
    total = d.sum()
    assert total > 5000  # it moved something
    ys = np.arange(d.shape[0])[:, None]
    share = {
        "above_eyes": d[(ys < eye_y).repeat(d.shape[1], 1)].sum() / total,
        "below_nose": d[(ys > nose_y).repeat(d.shape[1], 1)].sum() / total,
        "eye_band": d[(np.abs(ys - eye_y) < 0.08 * w).repeat(d.shape[1], 1)].sum() / total,
        "eyes_to_mouth": d[((ys > eye_y) & (ys < mouth_y)).repeat(d.shape[1], 1)].sum() / total,
    }
    expected = {
        "AU1+AU2": "above_eyes",
        "AU4": "above_eyes",
        "AU6": "eyes_to_mouth",
        "AU7": "eye_band",
        "AU12": "below_nose",
        "AU15": "below_nose",
    }[au]
    assert share[expected] >= 0.9, share
    x0, y0, x1, y1 = bbox
    far = np.ones(d.shape, bool)
    far[max(int(y0 - 0.1 * w), 0) : int(y1 + 0.1 * w), max(int(x0 - 0.1 * w), 0) : int(x1 + 0.1 * w)] = False
    assert d[far].sum() <= 0.002 * total  # nothing away from the face
    # direction: brows up / down, lip corners up / down (face's up is -y)
    res = displacement_field(_subset(lms), parse_aus(au), 0.04, img.shape[:2])
    assert res is not None
    _, field = res
    mag = np.hypot(field[..., 0], field[..., 1])
    peak = field.reshape(-1, 2)[mag.argmax()]
    assert mag.max() == pytest.approx(0.04 * w, rel=0.35)  # about the asked amplitude (capped for lids)
    if au in ("AU1+AU2", "AU6", "AU7", "AU12"):
        assert peak[1] < 0
    else:  # AU4, AU15
        assert peak[1] > 0


def test_field_scales_with_amplitude_and_vanishes_at_zero(face_frame):
    img, lms, _ = face_frame
    sub = _subset(lms)
    (_, d1), (_, d2) = (displacement_field(sub, ["AU12"], a, img.shape[:2]) for a in (0.01, 0.02))
    np.testing.assert_allclose(d2, 2 * d1, rtol=1e-4, atol=1e-5)
    assert displacement_field(sub, ["AU12"], 0.0, img.shape[:2]) is None
    assert np.array_equal(warp_face(img, lms, "AU12", 0.0), img)


@pytest.fixture(scope="module")
def small_cfg() -> SynthConfig:
    return SynthConfig(seed=11, n_clips=2, n_micro=1, n_macro=1, macro_duration=(0.6, 1.2))


def test_injected_frames_change_only_inside_events(grid_dir, lm_cache, small_cfg):
    clips = [grid_dir / "video" / f"{c}.mpg" for c in CLIPS]
    plan = plan_injected_video(clips, small_cfg, video="t", landmark_cache=lm_cache)
    assert plan.n_frames == 150 and plan.size == (360, 288) and len(plan.events) == 2
    inside = {n for e in plan.events for n in range(e.onset, e.offset + 1)}
    apexes = {e.apex: e for e in plan.events}
    n_seen = 0
    for (n, a), (m, b) in zip(plan.frames(inject=True), plan.frames(inject=False)):
        assert n == m
        n_seen += 1
        diff = np.abs(a.astype(int) - b.astype(int))
        if n not in inside:
            assert diff.max() == 0, n  # not a single pixel outside the events
        else:
            assert diff.max() > 0, n  # every event frame moves (onset and offset too)
        if n in apexes:
            e = apexes[n]
            sub = plan.landmarks[n]
            res = displacement_field(sub, parse_aus(e.aus), e.amplitude, a.shape[:2])
            assert res is not None
            (x0, y0, x1, y1), _ = res
            box = np.zeros(diff.shape[:2], bool)
            box[y0:y1, x0:x1] = True
            assert diff.sum(2)[~box].sum() == 0  # all change inside the field's support
    assert n_seen == 150


def test_build_is_deterministic_and_well_formed(grid_dir, lm_cache, small_cfg, tmp_path):
    from affectkit.media import iter_frame_list, probe, read_audio

    clips = [grid_dir / "video" / f"{c}.mpg" for c in CLIPS]
    ev1 = build_injected_video(
        clips, tmp_path / "a.mp4", tmp_path / "a.csv", small_cfg, landmark_cache=lm_cache
    )
    ev2 = build_injected_video(
        clips, tmp_path / "b.mp4", tmp_path / "b.csv", small_cfg, landmark_cache=lm_cache
    )
    assert [replace(e, video="") for e in ev1] == [replace(e, video="") for e in ev2]
    assert (tmp_path / "a.csv").read_text().replace(",a,", ",x,") == (tmp_path / "b.csv").read_text().replace(
        ",b,", ",x,"
    )
    frames_a = [img for _, _, img in iter_frame_list(tmp_path / "a.mp4")]
    frames_b = [img for _, _, img in iter_frame_list(tmp_path / "b.mp4")]
    assert len(frames_a) == len(frames_b) == 150
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))
    info = probe(tmp_path / "a.mp4")
    assert (info.width, info.height, info.fps) == (360, 288, 25.0) and info.has_audio
    assert len(read_audio(tmp_path / "a.mp4")) / 16000 == pytest.approx(6.0, abs=0.05)
    truth = read_truth_csv(tmp_path / "a.csv")["a"]
    assert [iv.onset for iv in truth] == [e.onset for e in ev1]
    assert all(0 <= iv.onset <= iv.offset < 150 for iv in truth)
    assert {iv.kind for iv in truth} == {"me", "mae"}
    # another seed places other events
    ev3 = build_injected_video(
        clips, tmp_path / "c.mp4", None, replace(small_cfg, seed=12), landmark_cache=lm_cache
    )
    assert [(e.onset, e.aus) for e in ev3] != [(e.onset, e.aus) for e in ev1]


def test_make_benchmark_writes_and_reuses(grid_dir, lm_cache, tmp_path):
    cfg = SynthConfig(seed=5, n_clips=2, n_micro=1, n_macro=1, macro_duration=(0.6, 1.0), audio=False)
    out = make_benchmark(grid_dir, tmp_path / "bench", 1, cfg, landmark_cache=lm_cache)
    ((video, table),) = out
    assert video.name == "synth_000.mp4" and video.is_file() and table.is_file()
    assert (tmp_path / "bench" / "truth.csv").read_text().splitlines()[1:] == table.read_text().splitlines()[
        1:
    ]
    stamp = video.stat().st_mtime_ns
    again = make_benchmark(grid_dir, tmp_path / "bench", 1, cfg, landmark_cache=lm_cache)
    assert again == out and video.stat().st_mtime_ns == stamp  # cached, not rebuilt


def test_inject_into_a_two_face_video(grid_dir, shared_data, tmp_path):
    from affectkit.media import VideoWriter, iter_frame_list

    left = [img for _, _, img in iter_frame_list(grid_dir / "video" / "bbaf2n.mpg")][:50]
    others = sorted((shared_data / "grid_others").glob("*.mpg"))
    right = [img for _, _, img in iter_frame_list(others[0])][:50]
    src = tmp_path / "two.mp4"
    with VideoWriter(src, 720, 288, 25.0, crf=18) as vw:
        for a, b in zip(left, right):
            vw.write(np.hstack([a, b]))
    spec = ExpressionSpec(
        face=(0.5, 1.0), onset_s=0.6, apex_s=1.0, offset_s=1.6, au="AU12", amplitude=0.05, hold_s=0.2
    )
    ev = inject_into_video(src, tmp_path / "out.mp4", [spec], out_csv=tmp_path / "out.csv")
    assert len(ev) == 1
    e = ev[0]
    assert (e.onset, e.apex_start, e.apex_end, e.offset, e.kind, e.face) == (15, 25, 30, 40, "mae", 1)
    assert read_truth_csv(tmp_path / "out.csv") == {"out": [Interval(15, 40, 27, "mae", "happiness")]}
    src_frames = [img for _, _, img in iter_frame_list(src)]
    out_frames = [img for _, _, img in iter_frame_list(tmp_path / "out.mp4")]
    assert len(out_frames) == len(src_frames) == 50

    def p999(n: int, half: slice) -> float:  # strong local change, robust to re-encoding noise
        d = np.abs(out_frames[n].astype(int) - src_frames[n].astype(int)).max(2)
        return float(np.percentile(d[:, half], 99.9))

    right, left = slice(360, 720), slice(0, 360)
    assert p999(27, right) > 2.5 * p999(27, left)  # the right face moved, the left did not
    assert p999(27, right) > 2.5 * p999(5, right)  # before the event: codec noise only
    with pytest.raises(SynthError, match="not found"):
        inject_into_video(src, tmp_path / "x.mp4", [replace(spec, face=3)])
    with pytest.raises(ConfigError):
        inject_into_video(src, tmp_path / "x.mp4", [replace(spec, apex_s=0.5)])
    assert not (tmp_path / "x.mp4").exists()
