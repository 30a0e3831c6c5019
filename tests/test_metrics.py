"""MEGC spotting metrics and STRS on hand-computed cases."""

from __future__ import annotations

import random

import pytest

from affectkit.errors import AffectkitError
from affectkit.evaluation.metrics import (
    Counts,
    Interval,
    MetricsError,
    as_interval,
    classify_kind,
    iou,
    match_intervals,
    spotting_counts,
    spotting_scores,
    strs,
)


def I(a: int, b: int, kind: str | None = None, emotion: str | None = None) -> Interval:
    return Interval(a, b, kind=kind, emotion=emotion)


def test_iou_counts_frames_inclusively():
    assert iou(I(0, 9), I(5, 14)) == pytest.approx(5 / 15)  # frames 5..9 shared, 0..14 in all
    assert iou(I(0, 4), I(5, 9)) == 0.0  # touching: no shared frame
    assert iou(I(0, 4), I(4, 9)) == pytest.approx(1 / 10)  # one shared frame
    assert iou(I(3, 3), I(3, 3)) == 1.0  # single-frame intervals
    assert iou(I(10, 19), I(12, 15)) == pytest.approx(4 / 10)  # containment


def test_touching_intervals_do_not_match():
    c = spotting_counts([I(0, 4)], [I(5, 9)])
    assert (c.tp, c.fp, c.fn) == (0, 1, 1)


def test_iou_exactly_half_counts_and_just_below_does_not():
    assert spotting_counts([I(0, 9)], [I(0, 4)]).tp == 1  # 5 / 10 = 0.5
    assert spotting_counts([I(0, 19)], [I(0, 9)]).tp == 1  # 10 / 20
    below = spotting_counts([I(0, 10)], [I(0, 4)])  # 5 / 11 < 0.5
    assert (below.tp, below.fp, below.fn) == (0, 1, 1)
    assert spotting_counts([I(0, 20)], [I(0, 9)]).tp == 0  # 10 / 21


def test_other_thresholds_are_exact_too():
    assert spotting_counts([I(0, 9)], [I(0, 2)], threshold=0.3).tp == 1  # 3 / 10 = 0.3
    assert spotting_counts([I(0, 10)], [I(0, 2)], threshold=0.3).tp == 0  # 3 / 11
    with pytest.raises(MetricsError):
        spotting_counts([I(0, 1)], [I(0, 1)], threshold=0)


def test_one_prediction_over_two_truths_matches_one():
    # both truths at IoU exactly 0.5: the earlier truth is taken, the other stays a miss
    preds, truths = [I(0, 9)], [I(5, 9), I(0, 4)]
    assert match_intervals(preds, truths) == [(0, 1, 0.5)]
    c = spotting_counts(preds, truths)
    assert (c.tp, c.fp, c.fn) == (1, 0, 1)
    # different IoUs: the best one wins (B: 8/12 beats A: 6/10)
    m = match_intervals([I(0, 9)], [I(0, 5), I(2, 11)])
    assert [(i, j) for i, j, _ in m] == [(0, 1)]
    assert m[0][2] == pytest.approx(8 / 12)


def test_two_predictions_on_one_truth_give_one_tp_one_fp():
    c = spotting_counts([I(10, 19), I(11, 19)], [I(10, 19)])
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)
    assert c.precision == 0.5 and c.recall == 1.0 and c.f1 == pytest.approx(2 / 3)


def test_matching_does_not_depend_on_prediction_order():
    preds = [I(0, 9), I(0, 5), I(30, 40), I(31, 41), I(60, 61)]
    truths = [I(0, 5), I(2, 11), I(30, 40), I(59, 61)]
    # [0,5] (visited first: same onset, earlier offset) takes A=[0,5]; [0,9] then takes B=[2,11];
    # [30,40] takes [30,40]; [31,41] finds it taken; [60,61] vs [59,61] = 2/3
    expected = spotting_counts(preds, truths)
    assert (expected.tp, expected.fp, expected.fn) == (4, 1, 0)
    rng = random.Random(3)
    for _ in range(10):
        shuffled = preds[:]
        rng.shuffle(shuffled)
        assert spotting_counts(shuffled, truths) == expected


def test_empty_inputs_score_zero_without_division_errors():
    assert spotting_counts([], []) == Counts(0, 0, 0)
    assert Counts().f1 == 0.0 and Counts().precision == 0.0 and Counts().recall == 0.0
    only_preds = spotting_counts([I(0, 3)], [])
    assert (only_preds.fp, only_preds.f1) == (1, 0.0)
    only_truths = spotting_counts([], [I(0, 3)])
    assert (only_truths.fn, only_truths.f1) == (1, 0.0)
    res = spotting_scores({})
    assert res["overall"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    res = spotting_scores({"v": ([], [])})
    assert res["me"]["f1"] == 0.0 and res["n_videos"] == 1


def test_pooling_differs_from_averaging_per_video():
    per_video = {
        "a": ([I(0, 9, "mae")], [I(0, 9, "mae")]),  # TP 1: F1 1
        "b": ([I(0, 9, "mae")] + [I(100 + 20 * k, 110 + 20 * k, "mae") for k in range(9)], [I(0, 9, "mae")]),
    }
    res = spotting_scores(per_video)
    o = res["overall"]
    assert (o["tp"], o["fp"], o["fn"]) == (2, 9, 0)
    assert o["precision"] == pytest.approx(2 / 11) and o["recall"] == 1.0
    assert o["f1"] == pytest.approx(4 / 13)  # pooled
    per_video_f1 = [spotting_counts(p, t).f1 for p, t in per_video.values()]
    assert per_video_f1 == pytest.approx([1.0, 2 / 11])
    assert sum(per_video_f1) / 2 == pytest.approx(13 / 22)  # the average: a different answer
    assert res["per_video"] == {"a": {"tp": 1, "fp": 0, "fn": 0}, "b": {"tp": 1, "fp": 9, "fn": 0}}


def test_me_mae_split_attributes_predictions_by_their_own_kind():
    truths = [I(10, 17, "me"), I(40, 80, "mae")]
    preds = [I(10, 17, "me"), I(40, 79, "me")]  # the second is mislabelled: a MaE called ME
    res = spotting_scores({"v": (preds, truths)})
    assert (res["me"]["tp"], res["me"]["fp"], res["me"]["fn"]) == (1, 1, 0)
    assert (res["mae"]["tp"], res["mae"]["fp"], res["mae"]["fn"]) == (0, 0, 1)
    assert (res["overall"]["tp"], res["overall"]["fp"], res["overall"]["fn"]) == (1, 1, 1)
    assert res["overall"]["f1"] == pytest.approx(0.5)
    assert (res["any_kind"]["tp"], res["any_kind"]["fp"], res["any_kind"]["fn"]) == (2, 0, 0)
    assert res["me"]["f1"] == pytest.approx(2 / 3) and res["mae"]["f1"] == 0.0


def test_kind_by_length_uses_the_half_second_rule():
    assert classify_kind(0, 12, 25) == "me"  # 12 / 25 = 0.48 s
    assert classify_kind(0, 13, 25) == "mae"  # 0.52 s
    assert classify_kind(0, 15, 30) == "me"  # 0.5 s exactly: ME (CAS(ME)^2 ME up to 16 frames)
    assert classify_kind(0, 16, 30) == "mae"
    res = spotting_scores({"v": ([I(0, 12), I(50, 70)], [I(0, 12), I(50, 70)])}, fps=25)
    assert res["me"]["tp"] == 1 and res["mae"]["tp"] == 1 and res["overall"]["f1"] == 1.0
    with pytest.raises(MetricsError, match="fps"):
        spotting_scores({"v": ([I(0, 12)], [])})


def test_sanity_figure_pooled_arithmetic():
    # facts.md: the STRS sample files give TP 159, FP 85, FN 85 (244 truths, 244 predictions)
    # and spotting F1 0.6516. The files are not available here; this reproduces the pooled
    # arithmetic over several videos.
    per_video: dict[str, tuple[list[Interval], list[Interval]]] = {}
    hit, miss_pred, miss_truth = 159, 85, 85
    for v in range(10):
        preds: list[Interval] = []
        truths: list[Interval] = []
        for k in range(v, hit, 10):
            truths.append(I(100 * k, 100 * k + 20, "mae"))
            preds.append(I(100 * k + 2, 100 * k + 22, "mae"))  # IoU 19 / 23
        for k in range(v, miss_pred, 10):
            preds.append(I(100 * k + 50, 100 * k + 60, "mae"))  # in a gap: FP
        for k in range(v + 200, 200 + miss_truth, 10):
            truths.append(I(100 * k + 30, 100 * k + 40, "mae"))  # nothing there: FN
        per_video[f"v{v}"] = (preds, truths)
    o = spotting_scores(per_video)["overall"]
    assert (o["tp"], o["fp"], o["fn"]) == (159, 85, 85)
    assert round(o["precision"], 4) == round(o["recall"], 4) == 0.6516
    assert round(o["f1"], 4) == 0.6516
    assert strs({k: v for k, v in per_video.items()}, emotions=["x"])["spotting"]["f1"] == pytest.approx(
        159 / 244
    )


def test_strs_matches_the_public_readme_example():
    # the STRS metric's README example (5 videos, 2 subjects): STRS 0.2
    rows_pred = [
        ("EP02_01f", 10, 70, "happiness"),
        ("EP03_02", 100, 170, "others"),
        ("EP04_02", 0, 70, "others"),
        ("EP01_11f", 20, 90, "happiness"),
        ("EP02_04f", 70, 140, "happiness"),
    ]
    rows_gt = [
        ("EP02_01f", 45, 85, "happiness"),
        ("EP03_02", 130, 160, "others"),
        ("EP04_02", 20, 75, "others"),
        ("EP01_11f", 45, 95, "repression"),
        ("EP02_04f", 30, 140, "repression"),
    ]
    per_video = {
        v: (
            [I(a, b, emotion=e) for vv, a, b, e in rows_pred if vv == v],
            [I(a, b, emotion=e) for vv, a, b, e in rows_gt if vv == v],
        )
        for v, *_ in rows_gt
    }
    res = strs(per_video)
    sp = res["spotting"]
    assert (sp["tp"], sp["fp"], sp["fn"]) == (3, 2, 2) and sp["f1"] == pytest.approx(0.6)
    assert res["classes"] == ["happiness", "others", "repression"]
    pc = res["analysis"]["per_class"]
    assert (pc["happiness"]["tp"], pc["happiness"]["fp"], pc["happiness"]["fn"]) == (0, 2, 0)
    assert (pc["others"]["precision"], pc["others"]["recall"]) == (1.0, 1.0)
    assert (pc["repression"]["fn"], pc["repression"]["recall"]) == (2, 0.0)
    assert res["analysis"]["precision"] == pytest.approx(1 / 3) and res["analysis"][
        "recall"
    ] == pytest.approx(1 / 3)
    assert res["analysis"]["f1"] == pytest.approx(1 / 3)
    assert res["strs"] == pytest.approx(0.2)


def test_strs_all_correct_and_restricted_classes():
    per_video = {
        "v": (
            [I(0, 9, emotion="surprise"), I(20, 29, emotion="positive")],
            [I(0, 9, emotion="surprise"), I(20, 29, emotion="positive")],
        )
    }
    assert strs(per_video)["strs"] == pytest.approx(1.0)
    # a matched pair whose truth is not a class is left out of the analysis
    res = strs(per_video, emotions=["surprise"])
    assert res["analysis"]["tp"] == 1 and res["analysis"]["fp"] == 0 and res["strs"] == pytest.approx(1.0)
    with pytest.raises(MetricsError, match="emotion"):
        strs({"v": ([I(0, 9)], [I(0, 9)])})


def test_intervals_are_validated_and_coerced():
    with pytest.raises(MetricsError, match="before its onset"):
        Interval(5, 3)
    with pytest.raises(AffectkitError, match="kind"):
        Interval(0, 3, kind="blink")
    with pytest.raises(MetricsError):
        Interval(-1, 3)
    with pytest.raises(MetricsError, match="whole frame"):
        Interval(0.5, 3)  # type: ignore[arg-type]
    assert (
        Interval(0, 3, kind="Micro").kind == "me" and Interval(0, 30, kind="macro_expression").kind == "mae"
    )
    assert as_interval((3, 7)) == Interval(3, 7)
    assert as_interval({"onset": 3, "offset": 7, "kind": "MaE", "apex": 5}) == Interval(3, 7, 5, "mae")

    class Event:  # any object with onset / offset frames
        onset, offset, apex, kind = 10, 20, 15, "macro"

    assert as_interval(Event()) == Interval(10, 20, 15, "mae")
    with pytest.raises(MetricsError, match="onset and offset"):
        as_interval(3.5)
    assert Interval(0, 4).length == 5
