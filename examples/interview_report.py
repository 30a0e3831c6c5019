"""A per-person report of an interview, from the affectkit tools and the interview-summary prompt.

    python examples/interview_report.py                         # the bundled sample clip
    python examples/interview_report.py --timeline out/x/timeline.jsonl
    AFFECTKIT_CHAT_MODEL=openai:gpt-4o-mini python examples/interview_report.py

For each person the script gathers ``timeline_overview``, ``person_profile``,
``get_transcript`` and ``list_affect_events`` (the same tool functions the agents use), fills
the ``interview_summary`` prompt with them and asks the chat model named by
``AFFECTKIT_CHAT_MODEL`` (``provider:model``, via ``langchain.chat_models.init_chat_model``).
With no model configured it runs a ``GenericFakeChatModel`` whose answers are written from the
tool results by a template in this script (not by an LLM), and says so.

The sample clip is analysed into ``--outdir`` (default ``out/sample``) with
``affectkit.analyze`` when no timeline exists there yet.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from affectkit import Timeline
from affectkit.errors import AffectkitError
from affectkit.prompting import load_prompt
from affectkit.tools.core import (
    get_transcript,
    list_affect_events,
    person_profile,
    prompt_context,
    timeline_overview,
)
from affectkit.tools.langchain import chat_model_from_env as _chat_model_from_env

log = logging.getLogger("interview_report")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_conversation.mp4"
MODEL_ENV = "AFFECTKIT_CHAT_MODEL"
BUDGET = 3000


def load_timeline(video: Path, outdir: Path, timeline: Path | None) -> Timeline:
    """The given timeline, the one in ``outdir``, or a fresh analysis of ``video`` into ``outdir``."""
    if timeline is not None:
        return Timeline.from_jsonl(timeline)
    existing = outdir / "timeline.jsonl"
    if existing.is_file():
        try:
            return Timeline.from_jsonl(existing)
        except AffectkitError as exc:
            log.warning("re-analysing: %s", exc)
    from affectkit import analyze

    print(f"no timeline in {outdir}: analysing {video} ...", flush=True)
    return analyze(video, outdir)


def chat_model_from_env() -> Any | None:
    """The chat model named by AFFECTKIT_CHAT_MODEL, or None; a clear message and exit 2 when it
    cannot be created."""
    try:
        return _chat_model_from_env(MODEL_ENV)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc

def gather(tl: Timeline, person: str) -> dict[str, Any]:
    """The tool results the summary of one person is written from."""
    return {
        "overview": timeline_overview(tl, budget=BUDGET),
        "profile": person_profile(tl, person, budget=BUDGET),
        "transcript": get_transcript(tl, person=person, budget=BUDGET),
        "events": list_affect_events(tl, person=person, budget=BUDGET),
    }


def template_summary(person: str, role: str, data: dict[str, Any]) -> str:
    """A deterministic summary from the tool results (what the scripted model answers)."""
    prof, tr, ev = data["profile"], data["transcript"], data["events"]
    voice = prof.get("voice") or {}
    lines = [
        (
            f"**Role and participation**: {role}; {voice.get('turns', 0)} turns, "
            f"{voice.get('speaking_time', 0)} s of speech, {voice.get('questions', 0)} questions."
        )
    ]
    utts = tr.get("utterances", [])
    if utts:
        quotes = "; ".join(f'"{u["text"]}" ({u["start"]} s)' for u in utts[:3])
        more = f" and {len(utts) - 3} more turns" if len(utts) > 3 else ""
        lines.append(f"**What they said**: {quotes}{more}.")
    else:
        lines.append("**What they said**: nothing in the transcript.")
    events = ev.get("events", [])
    strong = [e for e in events if e["confidence"] >= 0.5]
    if strong:
        items = []
        for e in strong:
            what = e.get("caption") or e["kind"].replace("_", " ")
            aus = f" [{', '.join(a.split(' ')[0] for a in e['aus'])}]" if e.get("aus") else ""
            heard = e.get("reacts_to")
            state = f" while {e['state']}" if e.get("state") else ""
            ctx = f', reacting to "{heard["text"]}" ({heard["utterance"]}){state}' if heard else state
            items.append(f"{what}{aus} at {e['apex']} s ({e['id']}, confidence {e['confidence']}){ctx}")
        affect = "; ".join(items) + "."
    else:
        affect = "no event with confidence >= 0.5."
    face = prof.get("face")
    if isinstance(face, dict) and face.get("dominant_emotion"):
        affect += f" Baseline expression: mostly {face['dominant_emotion']}."
    elif not isinstance(face, dict):
        affect += " No face data for this person."
    lines.append("**Observable affect**: " + affect)
    weak = [e["id"] for e in events if e["confidence"] < 0.5]
    caveat = f"low-confidence events left out: {', '.join(weak)}. " if weak else ""
    lines.append(
        f"**Caveats**: {caveat}Automatic detections of brief movements and sounds; they are evidence "
        "of what was visible or audible, not of feelings, honesty or personality."
    )
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=SAMPLE, help="video to analyse when no timeline exists")
    parser.add_argument("-o", "--outdir", type=Path, default=REPO / "out" / "sample")
    parser.add_argument("--timeline", type=Path, default=None, help="use this timeline.jsonl (no analysis)")
    parser.add_argument("--show-prompt", action="store_true", help="also print each filled prompt")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    try:
        tl = load_timeline(args.video, args.outdir, args.timeline)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    ctx = prompt_context(tl)
    model = chat_model_from_env()
    scripted = model is None
    per_person = {p.id: gather(tl, p.id) for p in tl.people}
    if scripted:
        print(
            f"No chat model configured ({MODEL_ENV} is not set): the summaries below are written by a template "
            "from the tool results, through a scripted GenericFakeChatModel, not by an LLM.\n"
        )
        model = GenericFakeChatModel(
            messages=iter(
                [AIMessage(content=template_summary(p.id, p.role, per_person[p.id])) for p in tl.people]
            )
        )
    print(f"# Interview report: {ctx['video']} ({ctx['duration']} s)\n")
    if not tl.people:
        print("Nobody was detected in this video, so there is no one to report on.")
        return 0
    for p in tl.people:
        data = per_person[p.id]
        prompt = load_prompt("interview_summary", video=ctx["video"], person=f"{p.id} ({p.role})", **data)
        if args.show_prompt:
            print(f"<details><summary>prompt for {p.id}</summary>\n\n{prompt}\n</details>\n")
        answer = model.invoke([HumanMessage(prompt)])
        print(f"## {p.id} ({p.role})\n")
        print(str(answer.content).strip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
