"""The MCP server over stdio, driven by the mcp SDK's own client.

The server runs as a real subprocess (``python -m affectkit.tools.mcp OUTDIR``) over an output
folder holding the hand-made fixture timeline (tests/data/sample_timeline.jsonl); no test doubles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters

from affectkit.errors import TimelineFormatError

ALL_TOOLS = [
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
]




@pytest.fixture()
def served(tmp_path, sample_timeline) -> dict[str, Path]:
    """OUTDIR with the fixture at its root, a second (0-8 s) analysis in other/, and traps outside."""
    out = tmp_path / "out"
    sample_timeline.to_jsonl(out / "timeline.jsonl")
    sample_timeline.window(0, 8).to_jsonl(out / "other" / "timeline.jsonl")
    outside = tmp_path / "outside"
    outside.mkdir()
    sample_timeline.to_jsonl(outside / "secret" / "timeline.jsonl")
    (out / "link").symlink_to(outside, target_is_directory=True)
    return {"out": out, "outside": outside, "tmp": tmp_path}


def _params(outdir: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "affectkit.tools.mcp", str(outdir)])


def _data(result) -> dict:
    text = result.content[0].text
    data = json.loads(text)
    assert result.structured_content == data
    return data


def test_stdio_session_lists_and_calls_every_tool(served):
    out, outside = served["out"], served["outside"]
    seen: dict[str, object] = {}

    async def session() -> None:
        async with Client(_params(out), read_timeout_seconds=60) as client:
            assert client.server_info.name == "affectkit"
            assert "timeline_overview first" in (client.instructions or "")
            listed = (await client.list_tools()).tools
            seen["names"] = [t.name for t in listed]
            by_name = {t.name: t for t in listed}
            seen["moment_schema"] = by_name["describe_moment"].input_schema
            seen["export_ro"] = by_name["export_timeline"].annotations.read_only_hint
            seen["overview_ro"] = by_name["timeline_overview"].annotations.read_only_hint

            calls = {
                "timeline_overview": {},
                "get_transcript": {"start": 3, "end": 8},
                "list_affect_events": {"person": "P1", "kind": "micro_expression"},
                "describe_moment": {"t": 10.5},
                "find_reactions": {"phrase": "seven now"},
                "person_profile": {"person": "interviewer"},
                "next_utterance_cues": {"t": 14.5, "turns": 2},
                "export_timeline": {"path": "exports/p2.vtt", "person": "P2"},
                "list_timelines": {},
                "load_timeline": {"name": "other"},
            }
            results = {}
            for name, args in calls.items():
                r = await client.call_tool(name, args)
                assert not r.is_error, (name, r.content[0].text)
                results[name] = _data(r)
            # after load_timeline the tools answer from other/ (0-8 s: three utterances)
            results["after_load"] = _data(await client.call_tool("get_transcript", {}))
            seen["results"] = results

            bad = {
                "describe_moment": {"t": "12s"},
                "get_transcript": {"person": "P7"},
                "find_reactions": {"phrase": "now", "window": -1},
                "list_affect_events": {"speaker": "P1"},
                "person_profile": {},
                "next_utterance_cues": {"t": 99},
                "export_timeline": {"path": "../escape.vtt"},
                "load_timeline": {"name": "link/secret"},
            }
            errors = {}
            for name, args in bad.items():
                r = await client.call_tool(name, args)
                assert r.is_error, name
                errors[name] = _data(r)["error"]
            for path in [str(outside / "abs.vtt"), "link/escape.vtt", "timeline.jsonl"]:
                r = await client.call_tool("export_timeline", {"path": path})
                assert r.is_error
                errors[f"export {path}"] = _data(r)["error"]
            seen["errors"] = errors

            prompts = (await client.list_prompts()).prompts
            seen["prompts"] = {p.name: [(a.name, a.required) for a in p.arguments] for p in prompts}
            got = await client.get_prompt("next_utterance", {"route": "deliberate", "cues": '{"t": 14.5}'})
            seen["prompt_text"] = got.messages[0].content.text
            analyst = await client.get_prompt("affect_analyst", {})
            seen["analyst_text"] = analyst.messages[0].content.text

    anyio.run(session)

    assert seen["names"] == ALL_TOOLS
    assert seen["moment_schema"]["required"] == ["t"]
    assert seen["moment_schema"]["properties"]["t"]["type"] == "number"
    assert seen["export_ro"] is False and seen["overview_ro"] is True

    res = seen["results"]
    assert [p["id"] for p in res["timeline_overview"]["people"]] == ["P1", "P2"]
    assert [u["id"] for u in res["get_transcript"]["utterances"]] == ["u1", "u2"]
    assert [e["id"] for e in res["list_affect_events"]["events"]] == ["e0", "e4"]
    assert res["describe_moment"]["speech"]["words_at_t"] == "place red in c [four] please"
    assert [
        [e["id"] for r in o["reactions"] for e in r["events"]] for o in res["find_reactions"]["occurrences"]
    ] == [["e0"], ["e4"]]
    assert res["person_profile"]["id"] == "P2" and res["person_profile"]["voice"]["questions"] == 2
    assert [t["id"] for t in res["next_utterance_cues"]["recent_turns"]] == ["u3", "u4"]
    assert res["export_timeline"]["written"] == "exports/p2.vtt" and res["export_timeline"]["events"] == 2
    assert (served["out"] / "exports" / "p2.vtt").read_text().startswith("WEBVTT")
    # the symlinked folder that points outside is not listed
    assert res["list_timelines"]["timelines"] == [{"name": "."}, {"name": "other"}]
    assert res["load_timeline"]["loaded"] == "other" and res["load_timeline"]["counts"]["utterances"] == 3
    assert res["after_load"]["count"] == 3

    err = seen["errors"]
    assert "write t=12" in err["describe_moment"]
    assert "unknown person 'P7'; valid: P1 (interviewee" in err["get_transcript"]
    assert "window must be zero or more seconds" in err["find_reactions"]
    assert "unknown argument 'speaker'" in err["list_affect_events"]
    assert "missing required argument 'person'" in err["person_profile"]
    assert "t=99 is outside the media: the video runs from 0 to 24.06 s" in err["next_utterance_cues"]
    assert "contains '..'" in err["export_timeline"]
    assert "resolves outside the output folder" in err["load_timeline"]
    assert "is absolute" in err[f"export {outside / 'abs.vtt'}"]
    assert "resolves outside the output folder" in err["export link/escape.vtt"]
    assert "never overwritten" in err["export timeline.jsonl"]
    assert sorted(p.name for p in served["outside"].rglob("*")) == ["secret", "timeline.jsonl"]
    assert not (served["tmp"] / "escape.vtt").exists()

    assert seen["prompts"]["affect_analyst"] == [("video", False), ("duration", False), ("people", False)]
    assert seen["prompts"]["next_utterance"] == [("route", True), ("cues", True)]
    assert "Use the **deliberate** route" in seen["prompt_text"] and '{"t": 14.5}' in seen["prompt_text"]
    assert (
        "**sample_conversation.mp4**" in seen["analyst_text"] and "- P1: interviewee" in seen["analyst_text"]
    )


def test_server_refuses_a_folder_without_timelines(tmp_path):
    from affectkit.tools.mcp import build_server, serve

    with pytest.raises(TimelineFormatError, match="holds no timeline.jsonl"):
        serve(tmp_path)
    with pytest.raises(TimelineFormatError, match="no such output folder"):
        build_server(tmp_path / "missing")
    proc = subprocess.run(
        [sys.executable, "-m", "affectkit.tools.mcp", str(tmp_path / "missing")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no such output folder; run `affectkit analyze VIDEO -o" in proc.stderr
    assert proc.stdout == ""
