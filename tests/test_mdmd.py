"""MDMD baseline: the per-frame feature, the decoding, and spotting on real face frames."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.errors import ConfigError
from affectkit.evaluation.mdmd import (
    MDMDConfig,
    MDMDFeatures,
    _runs,
    mdmd_decode,
    mdmd_frame_feature,
    mdmd_spot,
    threshold,
)
from affectkit.evaluation.metrics import Interval, iou, spotting_counts


def _flow(s: int = 120) -> np.ndarray:
    return np.zeros((s, s, 2), np.float32)


def test_frame_feature_one_moving_block():
    f1, f2 = _flow(), _flow()
    f1[40:60, 60:80] = (2.0, 0.5)  # block (2, 3) of a 6 x 6 grid of 20-pixel blocks
    # 36 blocks, 12 averaged: one block at |f1| - |f2| = |(2, .5)|, the rest 0
    assert mdmd_frame_feature(f1, f2) == pytest.approx(np.hypot(2.0, 0.5) / 12, rel=1e-5)
    # the movement has not come back at i + k: no maximal difference
    assert mdmd_frame_feature(f1, f1.copy()) == pytest.approx(0.0, abs=1e-6)


def test_frame_feature_uses_the_main_direction_only():
    f1, f2 = _flow(), _flow()
    blk = f1[0:20, 0:20]
    blk[:, :12] = (1.0, 0.0)  # 60 % of the pixels move right by 1 (quadrant u >= 0, v >= 0)
    blk[:, 12:] = (-3.0, -0.1)  # 40 % move left by 3: not the main direction
    # top third of the main-direction pixels: all equal 1 -> block value 1
    assert mdmd_frame_feature(f1, f2) == pytest.approx(1.0 / 12, rel=1e-5)
    # with a 1 x 1 grid and top fraction 1 the frame value is the block value
    assert mdmd_frame_feature(f1[:20, :20], f2[:20, :20], grid=1, top_fraction=1.0) == pytest.approx(1.0)


def test_threshold_and_runs():
    c = np.array([np.nan, 0.0, 1.0, 3.0, 1.0, 0.0, np.nan])
    assert threshold(c, 0.5) == pytest.approx(1.0 + 0.5 * (3.0 - 1.0))
    assert threshold(c, 0.0, floor=2.5) == 2.5
    assert threshold(np.full(4, np.nan), 0.5) == np.inf
    assert _runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)) == [(1, 2), (4, 4), (7, 7)]
    assert _runs(np.zeros(3, bool)) == []


def _features(fps: float, me: np.ndarray, mae: np.ndarray, k=(10, 32)) -> MDMDFeatures:
    return MDMDFeatures(fps, len(me), {"me": k[0], "mae": k[1]}, {"me": me, "mae": mae}, len(me))


def test_contrast_and_decode_on_known_curves():
    n, fps = 300, 25.0
    me = np.zeros(n)
    me[100:108] = 2.0  # an 8-frame bump: a micro-expression shape
    mae = np.zeros(n)
    mae[180:205] = 1.5  # a 25-frame plateau: a macro-expression shape
    f = _features(fps, me, mae)
    c = f.contrast("me")
    assert np.isnan(c[:9]).all() and np.isnan(c[-9:]).all()
    assert c[103] == pytest.approx(2.0)  # neighbours 9 frames away are 0
    out = mdmd_decode(f, MDMDConfig(p=0.5))
    assert [(iv.onset, iv.offset, iv.kind) for iv in out] == [(100, 107, "me"), (180, 204, "mae")]
    assert all(iv.onset <= iv.apex <= iv.offset for iv in out)
    # a micro run longer than 0.5 s is not kept by the micro pass; the floor silences small curves
    assert mdmd_decode(_features(fps, me * 0.01, mae * 0.01), MDMDConfig(p=0.5, min_motion=0.05)) == []


def test_config_validation():
    for bad in (dict(p=1.0), dict(k_micro_s=2.0), dict(flow="lk"), dict(crop_size=8), dict(top_fraction=0)):
        with pytest.raises(ConfigError):
            MDMDConfig(**bad).validate()
    assert MDMDConfig().ks(25.0) == (10, 32) and MDMDConfig().ks(30.0) == (12, 39)


# ------------------------------------------------------------------ real face frames


@pytest.fixture(scope="module")
def still_face(grid_dir):
    from affectkit.face.landmarks import FaceLandmarker
    from affectkit.media import iter_frame_list

    with FaceLandmarker(max_faces=1) as lm:
        for n, t, img in iter_frame_list(grid_dir / "video" / "bbaf2n.mpg"):
            faces = lm.detect(img, t)
            if n == 5:
                return img.copy(), faces[0].landmarks
    raise AssertionError("unreachable")


def _write(path, img, lms, n, event=None):
    from affectkit.evaluation.synth import profile_weight, warp_face
    from affectkit.media import VideoWriter

    with VideoWriter(path, img.shape[1], img.shape[0], 25.0, crf=18) as vw:
        for i in range(n):
            w = profile_weight(i, *event[:4]) if event else 0.0
            vw.write(warp_face(img, lms, event[4], event[5] * w) if w > 0 else img)
    return path


def test_still_face_spots_nothing(still_face, tmp_path):
    img, lms = still_face
    video = _write(tmp_path / "still.mp4", img, lms, 130)
    assert mdmd_spot(video) == []


@pytest.mark.parametrize("au", ["AU4", "AU12"])
def test_injected_macro_expression_is_spotted(still_face, tmp_path, au):
    img, lms = still_face
    onset, offset = 80, 110
    video = _write(tmp_path / "macro.mp4", img, lms, 190, (onset, 92, 100, offset, au, 0.04))
    out = mdmd_spot(video)
    truth = Interval(onset, offset, kind="mae")
    assert out, "MDMD found nothing"
    assert max(iou(p, truth) for p in out) >= 0.5
    assert all(p.offset >= onset - 5 and p.onset <= offset + 5 for p in out)  # nothing away from it
    c = spotting_counts([p for p in out if p.kind == "mae"], [truth])
    assert c.tp == 1


def test_injected_micro_expression_is_spotted(still_face, tmp_path):
    img, lms = still_face
    video = _write(tmp_path / "micro.mp4", img, lms, 100, (40, 44, 44, 48, "AU4", 0.02))  # 0.32 s, 2 %
    out = mdmd_spot(video)
    assert spotting_counts([p for p in out if p.kind == "me"], [Interval(40, 48, kind="me")]).tp == 1
