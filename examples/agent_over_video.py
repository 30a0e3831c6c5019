"""An LLM agent that answers a question about a conversation video with the affectkit tools.

    python examples/agent_over_video.py                                  # the bundled sample clip
    python examples/agent_over_video.py interview.mp4 -q "How did the interviewee react to the first question?"
    python examples/agent_over_video.py out/interview                    # an analysed output folder
    AFFECTKIT_CHAT_MODEL=openai:gpt-4o-mini python examples/agent_over_video.py

The chat model is named by the environment variable ``AFFECTKIT_CHAT_MODEL`` in the
``provider:model`` form of ``langchain.chat_models.init_chat_model`` (that needs the
``langchain`` package and the provider's, e.g. ``langchain-openai``). With no model configured
the agent runs with a *scripted* ``GenericFakeChatModel``: its tool calls are planned from the
timeline and its final answer is written from the tool results by this script, not by an LLM.
The loop, the tools and their results are real either way.

A video is analysed into ``--outdir`` (default ``out/<video name>``) unless a valid
``timeline.jsonl`` is already there.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage

from affectkit import Timeline
from affectkit.errors import AffectkitError
from affectkit.prompting import load_prompt
from affectkit.tools.core import DEFAULT_BUDGET, list_affect_events, prompt_context
from affectkit.tools.langchain import AffectToolkit, run_agent
from affectkit.tools.langchain import chat_model_from_env as _chat_model_from_env

log = logging.getLogger("agent_over_video")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_conversation.mp4"
MODEL_ENV = "AFFECTKIT_CHAT_MODEL"
DEFAULT_QUESTION = (
    "How did each person react, facially, to what the other said? Cite times and event ids, "
    "and say how confident the evidence is."
)


def load_or_analyze(source: Path, outdir: Path | None) -> tuple[Timeline, Path]:
    """The timeline for ``source``: a timeline file, an output folder, or a video (analysed if needed)."""
    if source.is_file() and source.suffix == ".jsonl":
        return Timeline.from_jsonl(source), source.parent
    if source.is_dir():
        return Timeline.from_jsonl(source), source
    out = outdir or (REPO / "out" / source.stem)
    existing = out / "timeline.jsonl"
    if existing.is_file():
        try:
            return Timeline.from_jsonl(existing), out
        except AffectkitError as exc:
            log.warning("re-analysing: %s", exc)
    from affectkit import analyze

    print(f"analysing {source} into {out} ...", flush=True)
    return analyze(source, out), out


def chat_model_from_env() -> Any | None:
    """The chat model named by AFFECTKIT_CHAT_MODEL, or None; a clear message and exit 2 when it
    cannot be created."""
    try:
        return _chat_model_from_env(MODEL_ENV)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc

def scripted_model(tl: Timeline) -> GenericFakeChatModel:
    """A fake chat model whose tool calls are planned from the timeline (no LLM involved)."""
    face = list_affect_events(tl, kind="face", min_confidence=0.5, budget=100_000).get("events", [])
    calls: list[AIMessage] = [
        AIMessage(content="", tool_calls=[{"name": "timeline_overview", "args": {}, "id": "call_1"}]),
        AIMessage(
            content="",
            tool_calls=[
                {
                    "name": "list_affect_events",
                    "args": {"kind": "face", "min_confidence": 0.5},
                    "id": "call_2",
                }
            ],
        ),
    ]
    if face:
        top = max(face, key=lambda e: e["confidence"])
        calls.append(
            AIMessage(
                content="",
                tool_calls=[{"name": "describe_moment", "args": {"t": top["apex"]}, "id": "call_3"}],
            )
        )
        lines = []
        for e in face:
            what = e.get("caption") or e["kind"]
            heard = e.get("reacts_to")
            context = (
                f' while {e.get("state", "present")}, reacting to {heard["by"]}: "{heard["text"]}"'
                if heard
                else ""
            )
            lines.append(
                f"- {e['person']} at {e['apex']} s ({e['id']}): {what}{context}; confidence {e['confidence']}"
            )
        answer = (
            "[scripted answer, no LLM] Facial events with confidence >= 0.5:\n"
            + "\n".join(lines)
            + "\nThese are brief visible movements, not readouts of feelings or of honesty."
        )
    else:
        calls.append(
            AIMessage(content="", tool_calls=[{"name": "get_transcript", "args": {}, "id": "call_3"}])
        )
        answer = (
            "[scripted answer, no LLM] No facial event with confidence >= 0.5 was detected in this video."
        )
    return GenericFakeChatModel(messages=iter([*calls, AIMessage(content=answer)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source",
        nargs="?",
        default=str(SAMPLE),
        help="a video, an analysis output folder, or a timeline.jsonl (default: the sample clip)",
    )
    parser.add_argument("-q", "--question", default=DEFAULT_QUESTION)
    parser.add_argument("-o", "--outdir", type=Path, default=None, help="where a video is analysed to")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="characters per tool result")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    try:
        tl, outdir = load_or_analyze(Path(args.source), args.outdir)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    model = chat_model_from_env()
    if model is None:
        print(f"No chat model configured ({MODEL_ENV} is not set): running a scripted GenericFakeChatModel.")
        print(
            f"Set e.g. {MODEL_ENV}=openai:gpt-4o-mini (with langchain and langchain-openai) for a real LLM.\n"
        )
        model = scripted_model(tl)
    toolkit = AffectToolkit(tl, outdir=outdir, budget=args.budget)
    system = load_prompt("affect_analyst", **prompt_context(tl))
    print(f"Question: {args.question}\n")
    run = run_agent(model, toolkit.get_tools(), args.question, system_prompt=system, max_steps=args.max_steps)
    results = {m.tool_call_id: m for m in run.messages if isinstance(m, ToolMessage)}
    for call in run.tool_calls:
        msg = results.get(call["id"])
        text = str(msg.content) if msg else "(no result)"
        status = f" [{msg.status}]" if msg is not None and msg.status != "success" else ""
        print(f"-> {call['name']}({json.dumps(call['args'])}){status}")
        print(f"   {text[:300]}{' ...' if len(text) > 300 else ''}")
    print("\nAnswer:\n" + run.answer)
    return 0 if run.finished else 1


if __name__ == "__main__":
    sys.exit(main())
