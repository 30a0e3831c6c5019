"""The LangChain adapter: AffectToolkit's tools and the run_agent loop.

The only test double is the LLM: a langchain-core ``GenericFakeChatModel`` with scripted tool
calls. The tools, the loop and the timeline (the hand-made fixture of the sample clip,
tests/data/sample_timeline.jsonl) are real.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from affectkit.prompting import load_prompt
from affectkit.tools import AffectToolkit as LazyToolkit
from affectkit.tools.core import prompt_context
from affectkit.tools.langchain import AffectToolkit, run_agent

QUERY_TOOLS = [
    "timeline_overview",
    "get_transcript",
    "list_affect_events",
    "describe_moment",
    "find_reactions",
    "person_profile",
    "next_utterance_cues",
]




def _call(name: str, args: dict, call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def test_toolkit_tools_and_schemas(sample_timeline, tmp_path):
    tools = AffectToolkit(sample_timeline).get_tools()
    assert [t.name for t in tools] == QUERY_TOOLS
    assert all(isinstance(t, StructuredTool) for t in tools)
    with_out = AffectToolkit(sample_timeline, outdir=tmp_path).get_tools()
    assert [t.name for t in with_out] == QUERY_TOOLS + ["export_timeline", "list_timelines", "load_timeline"]
    assert LazyToolkit is AffectToolkit

    schemas = {t.name: convert_to_openai_tool(t)["function"] for t in tools}
    moment = schemas["describe_moment"]["parameters"]
    assert moment["required"] == ["t"]
    assert moment["properties"]["t"]["type"] == "number"
    assert "seconds" in moment["properties"]["t"]["description"]
    events = schemas["list_affect_events"]["parameters"]["properties"]
    assert events["kind"]["anyOf"][0]["enum"] == [
        "micro_expression",
        "macro_expression",
        "pitch_peak",
        "energy_peak",
        "long_pause",
        "face",
        "voice",
    ]
    assert schemas["timeline_overview"]["description"].startswith("Start here.")
    assert "listener" in schemas["find_reactions"]["description"]


def test_tool_invocation_returns_json_and_artifact(sample_timeline):
    tools = {t.name: t for t in AffectToolkit(sample_timeline).get_tools()}
    msg = tools["get_transcript"].invoke(
        {"type": "tool_call", "id": "c1", "name": "get_transcript", "args": {"start": 3, "end": 8}}
    )
    assert isinstance(msg, ToolMessage) and msg.status == "success" and msg.tool_call_id == "c1"
    data = json.loads(msg.content)
    assert [u["id"] for u in data["utterances"]] == ["u1", "u2"]
    assert msg.artifact == data
    # plain (non tool-call) invocation gives the JSON text
    text = tools["person_profile"].invoke({"person": "interviewer"})
    assert json.loads(text)["id"] == "P2"


def test_bad_arguments_become_error_tool_messages(sample_timeline):
    tools = {t.name: t for t in AffectToolkit(sample_timeline).get_tools()}
    bad = tools["describe_moment"].invoke(
        {"type": "tool_call", "id": "c2", "name": "describe_moment", "args": {"t": "12s"}}
    )
    assert bad.status == "error"
    assert json.loads(bad.content) == {
        "error": "t must be a number of seconds, e.g. 12.5 (got '12s'); write t=12 (plain seconds, no unit)"
    }
    missing = tools["describe_moment"].invoke(
        {"type": "tool_call", "id": "c3", "name": "describe_moment", "args": {"time": 3}}
    )
    assert missing.status == "error"
    err = json.loads(missing.content)["error"]
    assert "missing required argument 't'" in err and "unknown argument 'time'" in err
    person = tools["get_transcript"].invoke(
        {"type": "tool_call", "id": "c4", "name": "get_transcript", "args": {"person": "the woman"}}
    )
    assert person.status == "error" and "valid: P1 (interviewee" in person.content


def test_agent_loop_with_scripted_tool_calls(sample_timeline):
    """GenericFakeChatModel (the LLM double) asks for tools; the loop runs them and returns the answer."""
    model = GenericFakeChatModel(
        messages=iter(
            [
                _call("timeline_overview", {}, "call_1"),
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "find_reactions",
                            "args": {"phrase": "seven now", "window": 3},
                            "id": "call_2",
                        },
                        {
                            "name": "describe_moment",
                            "args": {"t": "12s"},
                            "id": "call_3",
                        },  # a malformed argument
                    ],
                ),
                _call("describe_moment", {"t": 14.22}, "call_4"),
                "P1 briefly raised their brows (e0, 2.16 s) and later lowered them (e4, 14.22 s).",
            ]
        )
    )
    tools = AffectToolkit(sample_timeline).get_tools()
    system = load_prompt("affect_analyst", **prompt_context(sample_timeline))
    run = run_agent(model, tools, "How did the interviewee react to the questions?", system_prompt=system)

    assert run.finished
    assert run.answer == "P1 briefly raised their brows (e0, 2.16 s) and later lowered them (e4, 14.22 s)."
    assert [c["name"] for c in run.tool_calls] == [
        "timeline_overview",
        "find_reactions",
        "describe_moment",
        "describe_moment",
    ]
    kinds = [type(m).__name__ for m in run.messages]
    assert kinds == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
        "ToolMessage",
        "ToolMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert isinstance(run.messages[0], SystemMessage) and "sample_conversation.mp4" in run.messages[0].content
    assert isinstance(run.messages[1], HumanMessage)
    results = {m.tool_call_id: m for m in run.tool_messages}
    overview = json.loads(results["call_1"].content)
    assert [p["id"] for p in overview["people"]] == ["P1", "P2"]
    reactions = json.loads(results["call_2"].content)
    assert [[e["id"] for r in o["reactions"] for e in r["events"]] for o in reactions["occurrences"]] == [
        ["e0"],
        ["e4"],
    ]
    assert results["call_3"].status == "error" and "write t=12" in results["call_3"].content
    moment = json.loads(results["call_4"].content)
    assert [e["id"] for e in moment["events_active"]] == ["e4", "e3"]  # by apex
    assert moment["people"][0]["state"] == "silent"


def test_agent_loop_unknown_tool_and_step_limit(sample_timeline):
    tools = AffectToolkit(sample_timeline).get_tools()
    model = GenericFakeChatModel(messages=iter([_call("read_minds", {}, "x1"), "I cannot do that."]))
    run = run_agent(model, tools, "?")
    (err,) = run.tool_messages
    assert err.status == "error" and "unknown tool 'read_minds'; available: timeline_overview" in err.content
    assert run.answer == "I cannot do that."

    looping = GenericFakeChatModel(messages=iter([_call("timeline_overview", {}, f"c{i}") for i in range(5)]))
    stuck = run_agent(looping, tools, "?", max_steps=3)
    assert not stuck.finished and len(stuck.tool_calls) == 3


def test_export_through_langchain_stays_in_outdir(sample_timeline, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tools = {t.name: t for t in AffectToolkit(sample_timeline, outdir=out).get_tools()}
    ok = tools["export_timeline"].invoke(
        {
            "type": "tool_call",
            "id": "e1",
            "name": "export_timeline",
            "args": {"path": "exports/p1.vtt", "person": "P1"},
        }
    )
    assert ok.status == "success" and json.loads(ok.content)["utterances"] == 6
    assert (out / "exports" / "p1.vtt").read_text().count("<v P1>") == 6
    refused = tools["export_timeline"].invoke(
        {"type": "tool_call", "id": "e2", "name": "export_timeline", "args": {"path": "../p1.vtt"}}
    )
    assert refused.status == "error" and "contains '..'" in refused.content
    assert not (tmp_path / "p1.vtt").exists()


def test_toolkit_from_a_folder_of_analyses(sample_timeline, tmp_path):
    sample_timeline.to_jsonl(tmp_path / "a" / "timeline.jsonl")
    kit = AffectToolkit.from_outdir(tmp_path)
    tools = {t.name: t for t in kit.get_tools()}
    assert "no timeline is loaded" in tools["timeline_overview"].invoke({})
    assert json.loads(tools["load_timeline"].invoke({"name": "a"}))["loaded"] == "a"
    assert json.loads(tools["timeline_overview"].invoke({}))["counts"]["events"] == 7
    with pytest.raises(TypeError, match="needs a timeline, an outdir, or both"):
        AffectToolkit()
