"""The whole pipeline on the bundled sample conversation, checked against its truth file.

The only test double is the LLM of the agent-loop test (a scripted ``GenericFakeChatModel``);
the timeline comes from the real pipeline (faces, speech, spotting, fusion).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from affectkit.schema import Timeline

TRUTH = Path(__file__).resolve().parents[1] / "examples" / "sample_conversation.truth.json"


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads(TRUTH.read_text())


@pytest.fixture(scope="module")
def tl(sample_analysis) -> Timeline:
    return Timeline.from_jsonl(sample_analysis / "timeline.jsonl")


def _sides(tl: Timeline, outdir: Path) -> dict[str, str]:
    from affectkit.face.store import FaceStore

    store = FaceStore(outdir / "faces")
    out = {}
    for p in tl.people:
        if not p.face_track_ids:
            continue
        bbox = store.load(p.face_track_ids[0], ["bbox"])["bbox"]
        cx = float(((bbox[:, 0] + bbox[:, 2]) / 2).mean())
        out["left" if cx < tl.media.width / 2 else "right"] = p.id
    return out


def test_people_faces_voices_and_roles(tl, truth, sample_analysis):
    sides = _sides(tl, sample_analysis)
    assert set(sides) == {"left", "right"} and len(tl.people) == 2
    who = {truth["people"][k]["position"]: k for k in truth["people"]}  # left -> "A"
    for side, pid in sides.items():
        person = tl.person(pid)
        letter = who[side]
        # the voice linked to this face says what the truth says this person said
        said = " ".join(u.text.lower() for u in tl.utterances if u.speaker == person.speaker_label)
        own = [t for t in truth["turns"] if t["speaker"] == letter]
        other = [t for t in truth["turns"] if t["speaker"] != letter]
        overlap = lambda turns: sum(  # noqa: E731
            max(0.0, min(u.end, t["end"]) - max(u.start, t["start"]))
            for u in tl.utterances if u.speaker == person.speaker_label for t in turns)
        assert person.speaker_label is not None and said
        assert overlap(own) > 5 * overlap(other) + 0.5, (side, person)
        assert person.role == truth["people"][letter]["role"]
        assert person.link_confidence is not None and person.link_confidence > 0.5


def test_injected_macro_expressions_are_found_on_the_right_face(tl, truth, sample_analysis):
    sides = _sides(tl, sample_analysis)
    for ex in [e for e in truth["expressions"] if e["type"] == "macro"]:
        pid = sides[ex["position"]]
        hits = [e for e in tl.events if e.person == pid and e.modality == "face"
                and max(0.0, min(e.end, ex["offset"]) - max(e.start, ex["onset"]))
                / (max(e.end, ex["offset"]) - min(e.start, ex["onset"])) >= 0.5]
        assert hits, ex
        aus = {a.au for h in hits for a in h.aus}
        assert set(ex["aus"].split("+")) & aus, (ex, aus)
    smile = [e for e in tl.events if e.person == sides["left"] and 13.5 < e.apex < 15.0 and e.modality == "face"]
    assert smile and smile[0].emotion is not None and smile[0].emotion.label == "happiness"
    # the interviewer's brow raise comes right after the interviewee's answer and is tied to it
    raise_ = [e for e in tl.events if e.person == sides["right"] and 5.0 < e.apex < 6.3 and e.modality == "face"][0]
    assert raise_.context is not None and raise_.context.reacts_to_text
    assert "blue" in raise_.context.reacts_to_text.lower() or "f2" in raise_.context.reacts_to_text.lower()


def test_outputs_written(sample_analysis, tl):
    assert (sample_analysis / "transcript.vtt").read_text().startswith("WEBVTT")
    assert len((sample_analysis / "speakers.rttm").read_text().splitlines()) >= 6
    assert tl.meta["stage_seconds"]["faces"] > 0 and "speech" in tl.meta["stage_seconds"]
    assert [e.id for e in tl.events] == [f"e{i}" for i in range(len(tl.events))]


def test_agent_loop_over_the_real_timeline(tl):
    """A scripted chat model (the only double) calls two tools and answers from their results."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from affectkit.tools.langchain import AffectToolkit, run_agent

    script = iter([
        AIMessage(content="", tool_calls=[{"name": "find_reactions", "args": {"phrase": "blue", "window": 2.0},
                                            "id": "c1"}]),
        AIMessage(content="", tool_calls=[{"name": "person_profile", "args": {"person": "interviewer"}, "id": "c2"}]),
        AIMessage(content="The interviewer raised her brows right after the answer."),
    ])
    model = GenericFakeChatModel(messages=script)
    run = run_agent(model, AffectToolkit(tl).get_tools(), "How did the interviewer react to 'blue'?")
    assert run.finished and run.answer.startswith("The interviewer raised")
    assert [c["name"] for c in run.tool_calls] == ["find_reactions", "person_profile"]
    from langchain_core.messages import ToolMessage

    results = [json.loads(m.content) for m in run.messages if isinstance(m, ToolMessage)]
    reactions, profile = results
    text = json.dumps(reactions)
    assert reactions["occurrences_found"] >= 1
    assert "AU1" in text or "AU2" in text  # the injected brow raise is among the reactions
    assert "error" not in profile and "interviewer" in json.dumps(profile)


def test_mcp_serves_the_real_output_folder(sample_analysis):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "affectkit.tools.mcp", str(sample_analysis)])
    got: dict = {}

    async def go() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            got["tools"] = [t.name for t in (await client.list_tools()).tools]
            r = await client.call_tool("list_affect_events", {"kind": "macro_expression", "min_confidence": 0.5})
            got["events"] = json.loads(r.content[0].text)
            r = await client.call_tool("describe_moment", {"t": 14.4})
            got["moment"] = json.loads(r.content[0].text)

    asyncio.run(go())
    assert "find_reactions" in got["tools"]
    assert "error" not in got["events"] and "error" not in got["moment"]
    assert "happiness" in json.dumps(got["moment"]) or "AU12" in json.dumps(got["moment"])
