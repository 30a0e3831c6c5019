"""Prompt templates shipped with affectkit (the package data ``affectkit.prompts``).

Templates are Markdown files in the top-level ``prompts/`` folder, installed as
``affectkit/prompts/*.md`` (``pyproject.toml`` maps the folder). They are read through
:mod:`importlib.resources`, so they work from a checkout, an editable install and a wheel.

Placeholders are ``{name}`` (a Python identifier in single braces); any other brace is left
alone, so JSON examples inside a prompt need no escaping. ``{{name}}`` renders a literal
``{name}``. A leading ``<!-- ... -->`` comment documents the template and is not rendered.

>>> from affectkit.prompting import load_prompt
>>> text = load_prompt("next_utterance", route="fast", cues='{"t": 14.5}')
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from .errors import ConfigError

PROMPT_PACKAGE = "affectkit.prompts"

_TOKEN = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER = re.compile(r"\A\s*<!--(.*?)-->\s*", re.DOTALL)
_NAME = re.compile(r"^[a-z0-9_]+$")


class PromptError(ConfigError):
    """An unknown prompt name, or variables that do not match a prompt's placeholders."""


def list_prompts() -> list[str]:
    """Names of the shipped prompts (file names without ``.md``), sorted."""
    root = resources.files(PROMPT_PACKAGE)
    return sorted(p.name[:-3] for p in root.iterdir() if p.name.endswith(".md") and p.is_file())


def _normalise(name: Any) -> str:
    if not isinstance(name, str):
        raise PromptError(
            f"a prompt name must be a string (got {name!r}); available: {', '.join(list_prompts())}"
        )
    n = name.strip()
    n = n.removesuffix(".md")
    return n


def prompt_source(name: str) -> str:
    """The raw template text of prompt ``name`` (header comment included).

    Raises:
        PromptError: unknown name (the message lists the available prompts).
    """
    n = _normalise(name)
    available = list_prompts()
    if not _NAME.match(n) or n not in available:
        raise PromptError(f"unknown prompt {name!r}; available prompts: {', '.join(available) or 'none'}")
    return resources.files(PROMPT_PACKAGE).joinpath(f"{n}.md").read_text(encoding="utf-8")


def _split_header(text: str) -> tuple[str, str]:
    m = _HEADER.match(text)
    if not m:
        return "", text
    return " ".join(m.group(1).split()), text[m.end() :]


def prompt_description(name: str) -> str:
    """The template's header comment (what it is for and its variables), or ''."""
    return _split_header(prompt_source(name))[0]


def prompt_variables(name: str) -> list[str]:
    """The placeholders of prompt ``name``, in order of first appearance."""
    body = _split_header(prompt_source(name))[1]
    seen: list[str] = []
    for m in _TOKEN.finditer(body):
        var = m.group(2)
        if var and var not in seen:
            seen.append(var)
    return seen


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def load_prompt(name: str, /, **variables: Any) -> str:
    """Prompt ``name`` with its ``{placeholders}`` filled in.

    Values that are dicts or lists (e.g. tool results) are written as compact JSON; other
    values with ``str()``. ``name`` is positional-only, so a template may use ``{name}`` too.

    Raises:
        PromptError: unknown prompt (lists the available ones), a missing variable or an
            unknown one (lists the prompt's variables).
    """
    source = prompt_source(name)
    body = _split_header(source)[1]
    needed = prompt_variables(name)
    missing = [v for v in needed if v not in variables]
    unknown = sorted(set(variables) - set(needed))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing variable(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown variable(s) {', '.join(unknown)}")
        raise PromptError(
            f"prompt {_normalise(name)!r}: {'; '.join(parts)}; it takes: {', '.join(needed) or 'no variables'}"
        )

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return "{" + m.group(1) + "}"
        return _render_value(variables[m.group(2)])

    return _TOKEN.sub(sub, body).strip() + "\n"


__all__ = [
    "PromptError",
    "list_prompts",
    "load_prompt",
    "prompt_description",
    "prompt_source",
    "prompt_variables",
]
