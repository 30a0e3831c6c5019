"""MCP adapter: the agent tools served over stdio with the ``mcp`` SDK (2.x).

Run ``python -m affectkit.tools.mcp OUTDIR`` (or call :func:`serve`) where ``OUTDIR`` is an
analysis output folder: ``OUTDIR/timeline.jsonl``, or a folder of analyses
(``OUTDIR/<name>/timeline.jsonl``, as ``examples/enrich_dataset.py`` writes them; the client
then picks one with ``load_timeline``).

The server exposes

- **tools**: the tools of :data:`affectkit.tools.core.TOOL_SPECS` (their JSON schemas come from
  the same pydantic argument models as the LangChain tools). Results are compact JSON text,
  also given as ``structuredContent``; bad arguments come back as ``isError`` results whose text
  says what to change. The path tools (``export_timeline``, ``list_timelines``,
  ``load_timeline``) never read or write outside ``OUTDIR``.
- **prompts**: the shipped prompt templates (:mod:`affectkit.prompting`); ``video``,
  ``duration``, ``people`` and ``overview`` are filled from the loaded timeline when not given.

Logging goes to stderr: stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

try:
    import mcp_types as types
    from mcp.server import Server
    from mcp.server.stdio import stdio_server
    from mcp.shared.exceptions import MCPError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ..errors import ConfigError

    class MCPNotInstalledError(ConfigError, ImportError):
        """The optional ``mcp`` package is missing (an ImportError too, for ``importorskip``)."""

    raise MCPNotInstalledError(
        "the MCP server needs the `mcp` package, version 2: pip install 'affectkit[mcp]'"
    ) from exc

from .. import __version__
from ..errors import AffectkitError
from .core import DEFAULT_BUDGET, ToolSession, ToolSpec, prompt_context, timeline_overview, to_json

log = logging.getLogger(__name__)

SERVER_NAME = "affectkit"

INSTRUCTIONS = (
    "Tools over an affectkit timeline of one analysed conversation video: who is on screen, what they "
    "said (word times) and timestamped facial/vocal affect events. Call timeline_overview first. Times "
    "are seconds from the start of the video; people are named by id (P1), speaker label or role "
    "(interviewer). Micro-expressions are evidence of brief facial movements, not of hidden feelings "
    "and never of deception."
)


def _tool(spec: ToolSpec) -> types.Tool:
    schema = spec.args_model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    return types.Tool(
        name=spec.name,
        title=spec.name.replace("_", " "),
        description=spec.description,
        input_schema=schema,
        annotations=types.ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )


def _prompt_defaults(session: ToolSession) -> dict[str, str]:
    if session.timeline is None:
        return {}
    values = dict(prompt_context(session.timeline))
    values["overview"] = to_json(timeline_overview(session.timeline, budget=session.budget))
    return values


def build_server(outdir: str | os.PathLike[str], *, budget: int = DEFAULT_BUDGET) -> Server[Any]:
    """The MCP server (low-level ``mcp.server.Server``) over the analyses in ``outdir``.

    Raises:
        TimelineFormatError: ``outdir`` is missing or holds no timeline.
    """
    from ..prompting import PromptError, list_prompts, load_prompt, prompt_description, prompt_variables

    session = ToolSession.from_outdir(outdir, budget=budget)
    log.info(
        "serving %s (%s)", Path(outdir).resolve(), "loaded ." if session.timeline else "no timeline loaded"
    )

    async def on_list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(s) for s in session.specs()])

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        # The tools take milliseconds and share the session (load_timeline changes it):
        # run them in order on the event loop rather than in worker threads.
        result = session.call(params.name, dict(params.arguments or {}))
        if result.is_error:
            log.info("tool %s answered an error: %s", params.name, result.data.get("error"))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.text)],
            structured_content=result.data,
            is_error=result.is_error,
        )

    async def on_list_prompts(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        defaults = _prompt_defaults(session)
        prompts = []
        for name in list_prompts():
            args = [
                types.PromptArgument(
                    name=v,
                    required=v not in defaults,
                    description="filled from the loaded timeline when left out" if v in defaults else None,
                )
                for v in prompt_variables(name)
            ]
            prompts.append(types.Prompt(name=name, description=prompt_description(name), arguments=args))
        return types.ListPromptsResult(prompts=prompts)

    async def on_get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        try:
            wanted = prompt_variables(params.name)
            values = {k: v for k, v in _prompt_defaults(session).items() if k in wanted}
            values.update(params.arguments or {})
            text = load_prompt(params.name, **values)
        except PromptError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from exc
        return types.GetPromptResult(
            description=prompt_description(params.name),
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        title="affectkit timeline tools",
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts,
        on_get_prompt=on_get_prompt,
    )


async def serve_async(outdir: str | os.PathLike[str], *, budget: int = DEFAULT_BUDGET) -> None:
    """Serve the tools over this process's stdin/stdout until the client disconnects."""
    server = build_server(outdir, budget=budget)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve(outdir: str | os.PathLike[str], *, budget: int = DEFAULT_BUDGET) -> None:
    """Serve the tools over stdio (blocking); what ``affectkit mcp OUTDIR`` runs.

    Raises:
        TimelineFormatError: ``outdir`` is missing or holds no timeline (before anything is served).
    """
    ToolSession.from_outdir(outdir, budget=budget)  # fail early, with the folder's own message
    anyio.run(lambda: serve_async(outdir, budget=budget))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m affectkit.tools.mcp OUTDIR [--budget N] [-v]``."""
    parser = argparse.ArgumentParser(
        prog="python -m affectkit.tools.mcp",
        description="Serve the affectkit agent tools over MCP (stdio) for an analysis output folder.",
    )
    parser.add_argument(
        "outdir", help="output folder of `affectkit analyze` (holds timeline.jsonl), or a folder of them"
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        help=f"size limit of each tool result in characters (default {DEFAULT_BUDGET})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (on stderr)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        serve(args.outdir, budget=args.budget)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
