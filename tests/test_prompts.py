"""Prompt templates: loading, placeholders, errors, and shipping in a wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from affectkit import prompting
from affectkit.errors import ConfigError
from affectkit.prompting import PromptError, list_prompts, load_prompt, prompt_variables
from affectkit.tools.core import next_utterance_cues, prompt_context

REPO = Path(__file__).resolve().parents[1]




def test_the_shipped_prompts_and_their_variables():
    assert list_prompts() == ["affect_analyst", "interview_summary", "next_utterance"]
    assert prompt_variables("affect_analyst") == ["video", "duration", "people"]
    assert prompt_variables("next_utterance") == ["route", "cues"]
    assert prompt_variables("interview_summary.md") == [
        "person",
        "video",
        "overview",
        "profile",
        "transcript",
        "events",
    ]
    for name in list_prompts():
        assert prompting.prompt_description(name).startswith(name + ":")


def test_affect_analyst_prompt(sample_timeline):
    text = load_prompt("affect_analyst", **prompt_context(sample_timeline))
    assert text.startswith("You are an affect analyst.")  # the header comment is not rendered
    assert "**sample_conversation.mp4**\n(24.06 s long)" in text
    assert "- P1: interviewee, voice SPEAKER_00, 6 turns, 5 affect events" in text
    assert "- P2: interviewer, voice SPEAKER_01, 2 turns, 2 affect events" in text
    assert "Nothing here detects lies." in text
    for tool in (
        "timeline_overview",
        "get_transcript",
        "find_reactions",
        "list_affect_events",
        "describe_moment",
        "person_profile",
        "next_utterance_cues",
    ):
        assert f"`{tool}" in text
    assert "{" not in text.replace("`", "")  # every placeholder was filled


def test_next_utterance_prompt_takes_tool_results(sample_timeline):
    cues = next_utterance_cues(sample_timeline, 14.5)
    text = load_prompt("next_utterance", route="fast", cues=cues)
    assert "Use the **fast** route below." in text
    # dicts are written as compact JSON, which reads back to the same cues
    assert text.rstrip().endswith(json.dumps(cues, ensure_ascii=False, separators=(",", ":")))
    # the JSON example keeps its literal braces; its {route} placeholder is filled
    assert '{"route": "fast", "next_speaker": "<person id>"' in text
    assert "## Fast route: cue-based" in text and "## Deliberate route: reasoning" in text


def test_interview_summary_prompt():
    text = load_prompt(
        "interview_summary",
        person="P1 (interviewee)",
        video="v.mp4",
        overview={"a": 1},
        profile={"id": "P1"},
        transcript=[],
        events={"events": []},
    )
    assert "**P1 (interviewee)**\nin v.mp4, from the analysis below." in text
    assert "Profile of P1 (interviewee) (baseline" in text and '{"id":"P1"}' in text
    assert "Never judge honesty, deception" in text


def test_clear_errors():
    with pytest.raises(
        PromptError,
        match=r"unknown prompt 'summary'; available prompts: affect_analyst, "
        r"interview_summary, next_utterance",
    ):
        load_prompt("summary")
    with pytest.raises(
        PromptError, match=r"prompt 'next_utterance': missing variable\(s\) cues; it takes: route, cues"
    ):
        load_prompt("next_utterance", route="fast")
    with pytest.raises(PromptError, match=r"unknown variable\(s\) rout; it takes: route, cues"):
        load_prompt("next_utterance", rout="fast", route="fast", cues="{}")
    with pytest.raises(PromptError, match="unknown prompt '../pyproject'"):
        load_prompt("../pyproject")
    with pytest.raises(PromptError, match="a prompt name must be a string"):
        load_prompt(3)  # type: ignore[arg-type]
    assert issubclass(PromptError, ConfigError)


def test_placeholder_rules(monkeypatch):
    template = (
        '<!-- demo: x -->\nHi {name}! JSON: {"a": {"b": 1}} literal {{name}} and {name} again; {not a var}'
    )
    monkeypatch.setattr(prompting, "prompt_source", lambda name: template)
    assert prompting.prompt_variables("demo") == ["name"]
    out = prompting.load_prompt("demo", name="Ada {x}")
    assert out == 'Hi Ada {x}! JSON: {"a": {"b": 1}} literal {name} and Ada {x} again; {not a var}\n'


def test_prompts_ship_in_the_wheel(tmp_path):
    """Build a wheel from a copy of the sources; the prompts load from the installed files."""
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("affectkit", "prompts"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = dist.glob("affectkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n for n in names if n.startswith("affectkit/prompts/")) == [
        "affectkit/prompts/__init__.py",
        "affectkit/prompts/affect_analyst.md",
        "affectkit/prompts/interview_summary.md",
        "affectkit/prompts/next_utterance.md",
    ]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import affectkit.prompting as p; "
        "assert p.__file__.startswith(sys.argv[1]), p.__file__; "
        "print(p.list_prompts()); print(p.load_prompt('next_utterance', route='fast', cues='{}')[:40])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "['affect_analyst', 'interview_summary', 'next_utterance']",
        "You predict what will be said next in a ",
    ]
