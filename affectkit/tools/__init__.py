"""Agent tools over a :class:`~affectkit.schema.Timeline` (see ``docs/tools.md``).

- :mod:`affectkit.tools.core`: the tools as plain typed functions returning compact JSON-ready
  dicts (bad arguments give ``{"error": ...}``), their argument schemas (:data:`TOOL_SPECS`) and
  :class:`ToolSession`, which dispatches a model's tool calls;
- :mod:`affectkit.tools.langchain`: :class:`AffectToolkit` (langchain-core tools) and ``run_agent``;
- :mod:`affectkit.tools.mcp`: an MCP server over stdio (``python -m affectkit.tools.mcp OUTDIR``;
  needs the ``mcp`` extra).

>>> from affectkit import Timeline
>>> from affectkit.tools import find_reactions
>>> find_reactions(Timeline.from_jsonl("out/sample"), "seven now")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .core import (
    DEFAULT_BUDGET,
    TOOL_SPECS,
    ToolResult,
    ToolSession,
    ToolSpec,
    describe_moment,
    export_timeline,
    find_reactions,
    get_transcript,
    list_affect_events,
    next_utterance_cues,
    person_profile,
    prompt_context,
    timeline_overview,
)

__all__ = [
    "DEFAULT_BUDGET",
    "TOOL_SPECS",
    "AffectToolkit",
    "ToolResult",
    "ToolSession",
    "ToolSpec",
    "describe_moment",
    "export_timeline",
    "find_reactions",
    "get_transcript",
    "list_affect_events",
    "next_utterance_cues",
    "person_profile",
    "prompt_context",
    "timeline_overview",
]


def __getattr__(name: str) -> Any:
    """``AffectToolkit`` is imported on first use (it pulls in langchain-core)."""
    if name == "AffectToolkit":
        from .langchain import AffectToolkit

        return AffectToolkit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
