"""LangChain adapter: the agent tools as langchain-core ``StructuredTool`` objects.

>>> from affectkit import Timeline
>>> from affectkit.tools.langchain import AffectToolkit
>>> tools = AffectToolkit(Timeline.from_jsonl("out/sample")).get_tools()   # doctest: +SKIP
>>> model.bind_tools(tools)                                                 # doctest: +SKIP

The tool logic lives in :mod:`affectkit.tools.core`; this module only wraps it. Each tool
returns compact JSON text as the ``ToolMessage`` content and the same data as its
``artifact``; a bad argument gives a ``ToolMessage`` with ``status="error"`` whose text says
what to change. :func:`run_agent` is a small tool-calling loop written with langchain-core
only (no ``langchain`` package needed).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ValidationError

from ..schema import Timeline
from .core import DEFAULT_BUDGET, ToolSession, ToolSpec, describe_validation_error, to_json

log = logging.getLogger(__name__)


class AffectToolkit:
    """The affectkit tools over one timeline, as LangChain tools.

    Args:
        timeline: the analysed timeline (``Timeline.from_jsonl(outdir)``), or None when
            ``outdir`` holds several analyses and the agent picks one with ``load_timeline``.
        outdir: the analysis output folder. When given, the path tools are added
            (``export_timeline``, ``list_timelines``, ``load_timeline``); they never read or
            write outside this folder.
        budget: size limit of each tool result, in characters of JSON.
    """

    def __init__(
        self,
        timeline: Timeline | None = None,
        *,
        outdir: str | os.PathLike[str] | None = None,
        budget: int = DEFAULT_BUDGET,
    ) -> None:
        if timeline is None and outdir is None:
            raise TypeError("AffectToolkit needs a timeline, an outdir, or both")
        if timeline is None:
            self.session = ToolSession.from_outdir(outdir, budget=budget)  # type: ignore[arg-type]
        else:
            self.session = ToolSession(
                timeline=timeline, outdir=Path(outdir) if outdir else None, budget=budget
            )

    @classmethod
    def from_outdir(cls, outdir: str | os.PathLike[str], *, budget: int = DEFAULT_BUDGET) -> AffectToolkit:
        """A toolkit over an analysis output folder (``OUTDIR/timeline.jsonl``, or a folder of them)."""
        return cls(None, outdir=outdir, budget=budget)

    def get_tools(self) -> list[BaseTool]:
        """One ``StructuredTool`` per tool this session can serve (see ``affectkit.tools.core.TOOL_SPECS``)."""
        return [self._tool(spec) for spec in self.session.specs()]

    def _tool(self, spec: ToolSpec) -> BaseTool:
        session = self.session

        def run(**kwargs: Any) -> tuple[str, dict[str, Any]]:
            # langchain passes every schema field (defaults included); the tools read None as "not given"
            result = session.call(spec.name, kwargs)
            if result.is_error:
                raise ToolException(result.text)
            return result.text, result.data

        def on_validation_error(exc: ValidationError) -> str:
            return to_json({"error": describe_validation_error(spec.name, exc, spec.args_model)})

        return StructuredTool.from_function(
            func=run,
            name=spec.name,
            description=spec.description,
            args_schema=spec.args_model,
            infer_schema=False,
            response_format="content_and_artifact",
            handle_tool_error=True,
            handle_validation_error=on_validation_error,
        )


@dataclass
class AgentRun:
    """The outcome of :func:`run_agent`."""

    answer: str
    messages: list[BaseMessage] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = True

    @property
    def tool_messages(self) -> list[ToolMessage]:
        return [m for m in self.messages if isinstance(m, ToolMessage)]


def _text(msg: BaseMessage) -> str:
    content = msg.content
    if isinstance(content, str):
        return content
    return "".join(
        b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, (str, dict))
    )


def run_agent(
    model: Any,
    tools: Sequence[BaseTool],
    question: str,
    *,
    system_prompt: str | None = None,
    max_steps: int = 8,
) -> AgentRun:
    """A minimal tool-calling loop: ask, run the requested tools, feed the results back, repeat.

    Args:
        model: a LangChain chat model. ``bind_tools`` is used when the model supports it (a
            scripted ``GenericFakeChatModel`` does not, and is used as is).
        tools: the tools the model may call (e.g. ``AffectToolkit(tl).get_tools()``).
        question: the user's question.
        system_prompt: e.g. ``load_prompt("affect_analyst", ...)``.
        max_steps: most model calls before stopping (``finished=False``).

    Returns:
        The final answer, every message exchanged and the tool calls made.
    """
    try:
        bound = model.bind_tools(list(tools))
    except NotImplementedError:
        bound = model
    by_name = {t.name: t for t in tools}
    messages: list[BaseMessage] = []
    if system_prompt:
        messages.append(SystemMessage(system_prompt))
    messages.append(HumanMessage(question))
    calls: list[dict[str, Any]] = []
    for step in range(max_steps):
        ai = bound.invoke(messages)
        if not isinstance(ai, AIMessage):
            ai = AIMessage(content=_text(ai) if isinstance(ai, BaseMessage) else str(ai))
        messages.append(ai)
        if not ai.tool_calls:
            return AgentRun(answer=_text(ai), messages=messages, tool_calls=calls)
        for call in ai.tool_calls:
            calls.append(call)
            tool = by_name.get(call["name"])
            log.info("step %d: tool %s(%s)", step, call["name"], json.dumps(call.get("args", {}))[:200])
            if tool is None:
                err = {"error": f"unknown tool {call['name']!r}; available: {', '.join(by_name)}"}
                messages.append(
                    ToolMessage(content=to_json(err), tool_call_id=call["id"] or "", status="error")
                )
                continue
            messages.append(tool.invoke({**call, "type": "tool_call"}))
    return AgentRun(
        answer="(stopped: the model kept calling tools after max_steps)",
        messages=messages,
        tool_calls=calls,
        finished=False,
    )


__all__ = ["AffectToolkit", "AgentRun", "run_agent"]


CHAT_MODEL_ENV = "AFFECTKIT_CHAT_MODEL"


def chat_model_from_env(var: str = CHAT_MODEL_ENV) -> Any | None:
    """The LangChain chat model named by the environment variable ``var`` (``provider:model``,
    e.g. ``openai:gpt-4o-mini``, through ``langchain.chat_models.init_chat_model``), or None when
    it is not set.

    Raises:
        ConfigError: the variable is set but ``langchain`` (or the provider's package) is missing.
    """
    import os

    from ..errors import ConfigError

    spec = os.environ.get(var, "").strip()
    if not spec:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise ConfigError(
            f"{var}={spec!r} needs langchain's init_chat_model: pip install langchain and the provider's "
            f"package (e.g. langchain-openai), or unset {var}"
        ) from exc
    try:
        return init_chat_model(spec)
    except Exception as exc:  # noqa: BLE001 - provider packages raise their own types
        raise ConfigError(f"{var}={spec!r}: could not create the chat model ({type(exc).__name__}: {exc})") from exc
