"""The agent tools as plain functions (affectkit.tools.core), over the hand-made fixture timeline.

The fixture (tests/data/sample_timeline.jsonl, built by tests/data/make_sample_timeline.py) is the
bundled sample clip's ground truth (two people, eight turns with word times) plus seven invented
events; every expected value below follows from that file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from affectkit.schema import MediaInfo, Timeline
from affectkit.tools import core
from affectkit.tools.core import (
    ToolSession,
    describe_moment,
    export_timeline,
    find_reactions,
    fit_budget,
    get_transcript,
    list_affect_events,
    next_utterance_cues,
    person_profile,
    resolve_inside,
    timeline_overview,
)

DATA = Path(__file__).parent / "data"
from conftest import SAMPLE_TIMELINE


def _ids(items: list[dict]) -> list[str]:
    return [i["id"] for i in items]


def _floats(obj):
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)


# --------------------------------------------------------------------------- the fixture itself


def test_fixture_is_what_the_script_builds(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_timeline", DATA / "make_sample_timeline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rebuilt = mod.build().to_jsonl(tmp_path / "t.jsonl")
    assert rebuilt.read_bytes() == SAMPLE_TIMELINE.read_bytes()


# --------------------------------------------------------------------------- each tool


def test_overview_counts_people_and_range(sample_timeline):
    out = timeline_overview(sample_timeline)
    assert out["media"]["file"] == "sample_conversation.mp4"
    assert out["valid_time_range"] == [0.0, 24.06]
    assert [(p["id"], p["role"], p["turns"], p["events"]) for p in out["people"]] == [
        ("P1", "interviewee", 6, 5),
        ("P2", "interviewer", 2, 2),
    ]
    assert out["people"][1]["speaking_time"] == 2.84  # (1.96-0.54) + (13.96-12.54)
    assert out["counts"] == {
        "utterances": 8,
        "questions": 2,
        "words": 48,
        "events": 7,
        "events_by_kind": {
            "energy_peak": 1,
            "long_pause": 1,
            "macro_expression": 1,
            "micro_expression": 3,
            "pitch_peak": 1,
        },
    }
    assert out["speech_span"] == [0.54, 22.95]


def test_transcript_window_and_person(sample_timeline):
    out = get_transcript(sample_timeline, 3, 8)
    assert out["window"] == [3.0, 8.0]
    assert [(u["id"], u["person"], u["text"]) for u in out["utterances"]] == [
        ("u1", "P1", "bin blue at f two now"),
        ("u2", "P1", "lay green with g two now"),
    ]
    assert out["utterances"][0]["start"] == 3.95 and out["utterances"][0]["end"] == 5.12
    by_role = get_transcript(sample_timeline, person="interviewer")
    assert by_role["person"] == "P2"
    assert _ids(by_role["utterances"]) == ["u0", "u4"]
    assert all(u["question"] for u in by_role["utterances"])
    # speaker labels work (case-insensitively), numeric strings are accepted
    by_label = get_transcript(sample_timeline, "15", "24", person="speaker_00")
    assert _ids(by_label["utterances"]) == ["u5", "u6", "u7"]
    # null / "null" mean "not given"
    assert get_transcript(sample_timeline, None, "null")["count"] == 8


def test_transcript_empty_window_says_so(sample_timeline):
    out = get_transcript(sample_timeline, 2.0, 3.5)
    assert out["utterances"] == [] and out["note"] == "nobody speaks in this window"


def test_events_filters(sample_timeline):
    micro = list_affect_events(sample_timeline, kind="micro", min_confidence=0.5)
    assert _ids(micro["events"]) == ["e0", "e4"]  # e5 is a micro-expression at 0.35
    e0 = micro["events"][0]
    assert (e0["person"], e0["start"], e0["apex"], e0["end"]) == ("P1", 2.04, 2.16, 2.36)
    assert e0["aus"] == ["AU1 inner brow raiser 0.46", "AU2 outer brow raiser 0.38"]
    assert e0["emotion"] == "surprise 0.58" and e0["state"] == "listening"
    assert e0["reacts_to"] == {"utterance": "u0", "by": "P2", "text": "bin red by k seven now"}
    assert _ids(list_affect_events(sample_timeline, kind="voice")["events"]) == ["e2", "e3", "e6"]
    assert _ids(list_affect_events(sample_timeline, person="P2")["events"]) == ["e1", "e5"]
    assert _ids(list_affect_events(sample_timeline, 9, 12)["events"]) == ["e1", "e2"]
    assert _ids(list_affect_events(sample_timeline, kind="long_pause")["events"]) == ["e3"]
    none = list_affect_events(sample_timeline, 0, 1.5)
    assert none["count"] == 0 and "widen" in none["note"]


def test_describe_moment(sample_timeline):
    out = describe_moment(sample_timeline, 10.5)
    assert out["people"] == [
        {"id": "P1", "role": "interviewee", "state": "speaking"},
        {"id": "P2", "role": "interviewer", "state": "listening"},
    ]
    assert out["speech"]["id"] == "u3"
    assert out["speech"]["words_at_t"] == "place red in c [four] please"
    assert _ids(out["events_active"]) == ["e1"]
    assert [(e["id"], e["apex_offset"]) for e in out["events_nearby"]] == [("e2", 0.24)]
    assert out["previous_utterance"]["id"] == "u2" and out["previous_utterance"]["ended_ago"] == 3.08
    assert out["next_utterance"]["id"] == "u4" and out["next_utterance"]["starts_in"] == 2.04
    silent = describe_moment(sample_timeline, "2.2", window=0.1)
    assert silent["speech"] is None
    assert {p["state"] for p in silent["people"]} == {"silent"}
    assert _ids(silent["events_active"]) == ["e0"] and silent["events_nearby"] == []


def test_find_reactions_after_a_question(sample_timeline):
    out = find_reactions(sample_timeline, "Seven, NOW")
    assert out["occurrences_found"] == 2
    occ = out["occurrences"]
    assert [(o["utterance"], o["speaker"]) for o in occ] == [("u0", "P2"), ("u4", "P2")]
    assert occ[0]["said"] == [1.49, 1.96]
    # only the listener (P1) is reported; only facial events count (the pause e3 does not)
    assert [r["person"] for r in occ[0]["reactions"]] == ["P1"]
    assert [(e["id"], e["delay"]) for e in occ[0]["reactions"][0]["events"]] == [("e0", 0.2)]
    assert [(e["id"], e["delay"]) for e in occ[1]["reactions"][0]["events"]] == [("e4", 0.26)]
    assert out["summary"] == {"P1": "reacted after 2 of 2 occurrence(s)"}


def test_find_reactions_listener_is_the_other_person(sample_timeline):
    out = find_reactions(sample_timeline, "place red")
    (occ,) = out["occurrences"]
    assert occ["speaker"] == "P1" and occ["said"] == [9.58, 10.05]
    (r,) = occ["reactions"]
    assert r["person"] == "P2" and _ids(r["events"]) == ["e1"] and r["events"][0]["delay"] == 0.47


def test_find_reactions_window_and_missing_phrase(sample_timeline):
    short = find_reactions(sample_timeline, "seven now", window=0.1)
    r = short["occurrences"][0]["reactions"][0]
    assert r["events"] == [] and r["note"] == "no facial event within 0.1 s"
    assert "summary" in short and short["summary"] == {}
    missing = find_reactions(sample_timeline, "purple elephant")
    assert missing["occurrences"] == [] and "not found" in missing["note"]


def test_person_profile(sample_timeline):
    out = person_profile(sample_timeline, "interviewee")
    assert out["id"] == "P1" and out["speaker_label"] == "SPEAKER_00"
    assert next(iter(out["face"]["baseline_aus"].items())) == ("AU25", 0.21)
    assert out["face"]["dominant_emotion"] == "neutral" and out["face"]["blinks"] == 7
    assert out["voice"]["turns"] == 6 and out["voice"]["words"] == 36 and out["voice"]["questions"] == 0
    assert out["voice"]["prosody"]["pitch_median"] == 121.0
    ev = out["events"]
    assert ev["total"] == 5
    assert ev["by_kind"] == {"energy_peak": 1, "long_pause": 1, "micro_expression": 2, "pitch_peak": 1}
    assert ev["while"] == {"listening": 2, "silent": 1, "speaking": 2}
    assert ev["emotions"] == {"surprise": 1, "negative": 1}
    assert _ids(ev["strongest"]) == ["e3", "e0", "e2"]  # by confidence 0.9, 0.78, 0.69
    assert ev["mean_confidence"] == round((0.78 + 0.69 + 0.9 + 0.64 + 0.55) / 5, 2)


def test_next_utterance_cues_use_nothing_after_t(sample_timeline):
    out = next_utterance_cues(sample_timeline, 14.5)
    assert _ids(out["recent_turns"]) == ["u1", "u2", "u3", "u4"]
    assert out["last_speaker"] == "P2" and out["silence_since_last_word"] == 0.54
    assert out["speaker_affect"] == {"person": "P2", "events": []}
    (listener,) = out["listener_affect"]
    # e4 (apex 14.22) is before t; the pause e3 has its apex at 14.6, after t: left out
    assert listener["person"] == "P1" and _ids(listener["events"]) == ["e4"]
    assert out["next_speaker_guess"] == {"person": "P1", "reason": "P2 just asked a question"}
    assert out["recent_turns"][-1]["prosody"]["pitch_median"] == 209.0


def test_next_utterance_cues_cut_a_turn_in_progress(sample_timeline):
    out = next_utterance_cues(sample_timeline, 10.0, turns=2)
    assert _ids(out["recent_turns"]) == ["u2", "u3"]
    cur = out["recent_turns"][-1]
    assert cur["in_progress"] is True and cur["text"] == "place" and cur["end"] == 10.0
    assert "prosody" not in cur  # it would describe the rest of the turn
    assert out["next_speaker_guess"]["person"] == "P1"
    assert out["speaker_affect"]["events"] == []  # e2 (apex 10.74) has not happened yet
    assert out["listener_affect"][0]["events"] == []  # nor e1 (apex 10.52)
    # the interviewer's words carry estimated times in the fixture: cut by them
    early = next_utterance_cues(sample_timeline, 1.25)
    assert (
        early["recent_turns"][0]["text"] == "bin red by" and "cut_estimated" not in early["recent_turns"][0]
    )
    # a turn without word times is cut by the elapsed share of its words
    no_words = sample_timeline.model_copy(deep=True)
    no_words.utterances[0].words = []
    est = next_utterance_cues(no_words, 1.25)  # 0.71 of 1.42 s said: 3 of 6 words
    assert est["recent_turns"][0]["text"] == "bin red by" and est["recent_turns"][0]["cut_estimated"] is True


# --------------------------------------------------------------------------- size and rounding


@pytest.mark.parametrize("budget", [500, 600, 750])
def test_budget_is_respected_with_an_explicit_marker(sample_timeline, budget):
    out = get_transcript(sample_timeline, budget=budget)
    text = core.to_json(out)
    assert len(text) <= budget
    kept = len(out["utterances"])
    assert 0 < kept < 8
    assert out["utterances_omitted"] == (
        f"{8 - kept} more omitted (showing {kept} of 8); narrow start/end or filter by person"
    )
    assert _ids(out["utterances"]) == [f"u{i}" for i in range(kept)]  # the earliest are kept
    assert out["count"] == 8


def test_budget_for_events_and_reactions(sample_timeline):
    ev = list_affect_events(sample_timeline, budget=800)
    assert len(core.to_json(ev)) <= 800 and "events_omitted" in ev and ev["count"] == 7
    fr = find_reactions(sample_timeline, "now", budget=700)
    assert len(core.to_json(fr)) <= 700 and "occurrences_omitted" in fr


def test_fit_budget_clips_long_strings():
    payload = {"items": [{"text": "x" * 3000}], "title": "y" * 3000}
    out = fit_budget(payload, 600, "hint")
    assert len(core.to_json(out)) <= 600
    assert "… [+" in out["title"]
    assert payload["title"] == "y" * 3000  # the input is not modified


def test_times_are_rounded_to_hundredths(sample_timeline):
    results = [
        timeline_overview(sample_timeline),
        get_transcript(sample_timeline),
        list_affect_events(sample_timeline),
        describe_moment(sample_timeline, 10.123456),
        find_reactions(sample_timeline, "now"),
        person_profile(sample_timeline, "P2"),
        next_utterance_cues(sample_timeline, 14.777),
    ]
    for r in results:
        assert "error" not in r
        for x in _floats(r):
            assert round(x, 2) == x, (x, r)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "name, args, expected",
    [
        ("get_transcript", {"start": "12s"}, "start=12 (plain seconds, no unit)"),
        ("get_transcript", {"start": "1:02"}, "start=62 (seconds, not m:ss)"),
        ("get_transcript", {"start": 30}, "start=30 is outside the media: the video runs from 0 to 24.06 s"),
        ("get_transcript", {"end": -1}, "end=-1 is outside the media"),
        ("get_transcript", {"start": 5, "end": 2}, "end (2) is before start (5)"),
        (
            "get_transcript",
            {"person": "P9"},
            "unknown person 'P9'; valid: P1 (interviewee, voice SPEAKER_00), P2 (interviewer, voice SPEAKER_01)",
        ),
        ("get_transcript", {"person": 1}, "did you mean 'P1'?"),
        ("get_transcript", {"start": [1, 2]}, "start must be a number of seconds"),
        (
            "list_affect_events",
            {"kind": "smile"},
            "unknown kind 'smile'; use one of micro_expression, macro_expression",
        ),
        ("list_affect_events", {"min_confidence": 70}, "0-1 scale (got 70); did you mean 0.7?"),
        ("list_affect_events", {"min_confidence": "high"}, "min_confidence must be a number from 0 to 1"),
        ("describe_moment", {"t": None}, "t is required: give seconds from the start of the video"),
        ("describe_moment", {"t": True}, "t must be a number of seconds, e.g. 12.5, not a boolean"),
        ("describe_moment", {"t": 3, "window": -2}, "window must be zero or more seconds"),
        ("find_reactions", {"phrase": ""}, "phrase must be the words to look for"),
        ("find_reactions", {"phrase": None}, "phrase must be the words to look for"),
        ("find_reactions", {"phrase": "now", "window": "3 s"}, "window=3"),
        ("person_profile", {"person": None}, "person is required; valid: P1 (interviewee"),
        ("next_utterance_cues", {"t": 5, "turns": 0}, "turns must be from 1 to 20 (got 0)"),
        ("next_utterance_cues", {"t": 5, "turns": 2.5}, "turns must be a whole number"),
    ],
)
def test_bad_arguments_give_clear_messages(sample_timeline, name, args, expected):
    result = ToolSession(sample_timeline).call(name, args)
    assert result.is_error
    assert set(result.data) == {"error"}
    assert expected in result.data["error"]
    assert json.loads(result.text) == result.data


def test_argument_shape_errors(sample_timeline):
    s = ToolSession(sample_timeline)
    missing = s.call("describe_moment", {})
    assert missing.is_error and "missing required argument 't'" in missing.data["error"]
    extra = s.call("get_transcript", {"speaker": "P1"})
    assert "unknown argument 'speaker'" in extra.data["error"]
    assert "Valid arguments: start, end, person" in extra.data["error"]
    unknown = s.call("summarise", {})
    assert "unknown tool 'summarise'; available: timeline_overview" in unknown.data["error"]
    not_obj = s.call("get_transcript", ["P1"])  # type: ignore[arg-type]
    assert "arguments must be a JSON object" in not_obj.data["error"]
    # without an output folder the path tools are not offered
    assert "export_timeline" not in [sp.name for sp in s.specs()]
    assert s.call("export_timeline", {"path": "x.vtt"}).is_error


def test_roles_can_be_ambiguous_and_timelines_empty(sample_timeline):
    two = sample_timeline.model_copy(deep=True)
    two.people[0].role = "interviewer"
    out = get_transcript(two, person="interviewer")
    assert out["error"] == "person='interviewer' is ambiguous: 2 people have that role (P1, P2); use an id"
    empty = Timeline(media=MediaInfo(path="/data/x.mp4", duration=10.0, fps=25.0, width=8, height=8))
    ov = timeline_overview(empty)
    assert ov["people"] == [] and ov["note"] == "the timeline is empty: no faces, speech or events were found"
    assert "this timeline has no people" in get_transcript(empty, person="P1")["error"]
    assert list_affect_events(empty)["note"] == "no affect events were detected in this video"
    assert next_utterance_cues(empty, 5)["next_speaker_guess"]["person"] is None


def test_the_session_uses_its_budget(sample_timeline):
    s = ToolSession(sample_timeline, budget=600)
    assert len(s.call("get_transcript", {}).text) <= 600
    bad = get_transcript(sample_timeline, budget=10)
    assert "budget must be a whole number of characters >= 500" in bad["error"]


# --------------------------------------------------------------------------- paths: export and load


@pytest.fixture()
def outdir(tmp_path, sample_timeline) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    sample_timeline.to_jsonl(out / "timeline.jsonl")
    return out


def test_export_vtt_jsonl_json(sample_timeline, outdir):
    res = export_timeline(sample_timeline, outdir, "exports/start.vtt", start=0, end=3)
    assert res == {
        "written": "exports/start.vtt",
        "format": "vtt",
        "window": [0.0, 3.0],
        "person": None,
        "utterances": 1,
        "events": 1,
        "bytes": (outdir / "exports/start.vtt").stat().st_size,
    }
    vtt = (outdir / "exports/start.vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    assert "u0\n00:00:00.540 --> 00:00:01.960\n<v P2>bin red by k seven now\n" in vtt
    assert "e0\n00:00:02.040 --> 00:00:02.360\n[P1 micro expression] AU1+AU2 brief inner" in vtt
    assert "u1" not in vtt

    res = export_timeline(sample_timeline, outdir, "p2.jsonl", person="interviewer")
    sub = Timeline.from_jsonl(outdir / "p2.jsonl")
    assert [u.id for u in sub.utterances] == ["u0", "u4"] and [e.id for e in sub.events] == ["e1", "e5"]
    assert res["format"] == "jsonl"

    export_timeline(sample_timeline, outdir, "sub/moment.json", format="json", start=9, end=12)
    doc = json.loads((outdir / "sub/moment.json").read_text())
    assert [u["id"] for u in doc["utterances"]] == ["u3"] and [e["id"] for e in doc["events"]] == ["e1", "e2"]


def test_export_refuses_paths_outside_the_outdir(sample_timeline, outdir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outdir / "link").symlink_to(outside, target_is_directory=True)
    (outdir / "dangling.vtt").symlink_to(outside / "new.vtt")
    cases = {
        "../escape.vtt": "contains '..'",
        "exports/../../escape.vtt": "contains '..'",
        str(outside / "abs.vtt"): "is absolute",
        "~/home.vtt": "is absolute",
        "link/x.vtt": "resolves outside the output folder",
        "dangling.vtt": "resolves outside the output folder",
        "timeline.jsonl": "is the analysed timeline and is never overwritten",
        "notes.txt": "cannot tell the format",
        "": "must be a file path relative to the output folder",
    }
    for path, expected in cases.items():
        out = export_timeline(sample_timeline, outdir, path)
        assert expected in out.get("error", ""), (path, out)
    mismatch = export_timeline(sample_timeline, outdir, "a.json", format="vtt")
    assert "does not end with .vtt" in mismatch["error"]
    assert list(outside.iterdir()) == []  # nothing was written outside
    assert not (tmp_path / "escape.vtt").exists()
    assert Timeline.from_jsonl(outdir / "timeline.jsonl") == sample_timeline


def test_resolve_inside_accepts_inner_paths(outdir):
    assert resolve_inside(outdir, "a/b/c.json") == (outdir / "a/b/c.json").resolve()
    with pytest.raises(core.ToolArgumentError, match="contains '..'"):
        resolve_inside(outdir, "a/../b.json")


def test_load_timeline_in_a_folder_of_analyses(sample_timeline, tmp_path):
    root = tmp_path / "dataset"
    sample_timeline.to_jsonl(root / "clip_a" / "timeline.jsonl")
    sample_timeline.window(0, 8).to_jsonl(root / "clip_b" / "timeline.jsonl")
    outside = tmp_path / "elsewhere"
    sample_timeline.to_jsonl(outside / "timeline.jsonl")
    (root / "escape").symlink_to(outside, target_is_directory=True)

    s = ToolSession.from_outdir(root)
    assert s.timeline is None
    assert s.call("get_transcript", {}).data == {
        "error": "no timeline is loaded; call load_timeline with one of: clip_a, clip_b"
    }
    listed = s.call("list_timelines", {}).data
    assert listed == {"count": 2, "timelines": [{"name": "clip_a"}, {"name": "clip_b"}], "loaded": None}
    loaded = s.call("load_timeline", {"name": "clip_b"}).data
    assert loaded["loaded"] == "clip_b" and loaded["counts"]["utterances"] == 3  # u0-u2 overlap 0-8 s
    assert s.call("get_transcript", {}).data["count"] == 3
    for bad, expected in [
        ("../elsewhere", "contains '..'"),
        ("escape", "resolves outside the output folder"),
        (str(outside), "is absolute"),
        ("clip_c", "valid names: clip_a, clip_b"),
    ]:
        res = s.call("load_timeline", {"name": bad})
        assert res.is_error and expected in res.data["error"], (bad, res.data)
    assert s.source == "clip_b"  # a refused load leaves the session as it was


def test_from_outdir_errors(tmp_path):
    with pytest.raises(core.AffectkitError, match="no such output folder"):
        ToolSession.from_outdir(tmp_path / "missing")
    with pytest.raises(core.AffectkitError, match="holds no timeline.jsonl"):
        ToolSession.from_outdir(tmp_path)


def test_bad_timeline_file_is_an_error_result(tmp_path, sample_timeline):
    root = tmp_path / "o"
    sample_timeline.to_jsonl(root / "timeline.jsonl")
    (root / "broken").mkdir()
    (root / "broken" / "timeline.jsonl").write_text('{"type": "event"}\n')
    s = ToolSession.from_outdir(root)
    res = s.call("load_timeline", {"name": "broken"})
    assert res.is_error and "the first line must be the 'media' record" in res.data["error"]
    assert s.timeline is not None and s.source == "."


def test_tool_functions_keep_names_and_docs():
    for fn in (get_transcript, find_reactions, export_timeline):
        assert fn.__doc__ and fn.__name__ in {"get_transcript", "find_reactions", "export_timeline"}
    assert {s.name for s in core.TOOL_SPECS} == {
        "timeline_overview",
        "get_transcript",
        "list_affect_events",
        "describe_moment",
        "find_reactions",
        "person_profile",
        "next_utterance_cues",
        "export_timeline",
        "list_timelines",
        "load_timeline",
    }
