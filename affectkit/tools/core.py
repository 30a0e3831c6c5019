"""The agent tools as plain typed functions over a :class:`~affectkit.schema.Timeline`.

Every tool takes the timeline first, then the arguments an LLM fills in, and returns a
compact JSON-ready ``dict``:

- times are seconds from the first video frame, rounded to 0.01 s;
- lists are cut to fit a budget in characters (``budget``, default
  :data:`DEFAULT_BUDGET`); a cut list gets a sibling key ``<name>_omitted`` saying how many
  items were left out and how to narrow the query;
- a bad argument never raises: the result is ``{"error": "<what is wrong and what to do>"}``
  (unknown person -> the valid ones, time outside the media -> the valid range, "12s" or
  null where a number is needed -> the number to write instead, ...).

Persons can be named by id (``"P1"``), by diarization label (``"SPEAKER_00"``) or by role
(``"interviewer"``), case-insensitively.

The LangChain and MCP adapters (:mod:`affectkit.tools.langchain`, :mod:`affectkit.tools.mcp`)
are thin: they take the argument schemas and descriptions from :data:`TOOL_SPECS` and
dispatch through :class:`ToolSession`, which also holds the output folder for the tools that
take a path (``export_timeline``, ``load_timeline``). Those resolve every path inside the
output folder and refuse anything that leaves it (``..``, absolute paths, symlinks out).
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from ..errors import AffectkitError, ToolArgumentError
from ..schema import AffectEvent, EventKind, Person, Timeline, Utterance, Word

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 4000
"""Default size limit of one tool result, in characters of compact JSON (about 1,000 tokens)."""

MIN_BUDGET = 500
"""Smallest budget accepted; below it a result cannot carry a useful answer."""

TIMELINE_NAME = "timeline.jsonl"
"""File name of an analysed timeline inside an output folder (as written by ``affectkit analyze``)."""

EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
_KIND_ALIASES = {
    "micro": "micro_expression",
    "microexpression": "micro_expression",
    "micro-expression": "micro_expression",
    "micro expression": "micro_expression",
    "macro": "macro_expression",
    "macroexpression": "macro_expression",
    "macro-expression": "macro_expression",
    "macro expression": "macro_expression",
    "expression": "expression",
    "pitch": "pitch_peak",
    "pitch peak": "pitch_peak",
    "energy": "energy_peak",
    "loudness": "energy_peak",
    "energy peak": "energy_peak",
    "pause": "long_pause",
    "long pause": "long_pause",
    "silence": "long_pause",
}
_MODALITY_KINDS = {
    "face": ("micro_expression", "macro_expression"),
    "expression": ("micro_expression", "macro_expression"),
    "voice": ("pitch_peak", "energy_peak", "long_pause"),
}
EXPORT_FORMATS = ("json", "jsonl", "vtt")
_FORMAT_SUFFIX = {"json": ".json", "jsonl": ".jsonl", "vtt": ".vtt"}

TimeArg = float | int | str | None
"""A time in seconds. Numeric strings ("12.5") are accepted; anything else gets a clear error."""

_F = TypeVar("_F", bound=Callable[..., dict[str, Any]])


# --------------------------------------------------------------------------- helpers: output


def _t(x: float) -> float:
    """A time (or score) rounded to 0.01."""
    return round(float(x), 2)


def to_json(payload: Any) -> str:
    """Compact JSON text of a tool result (no spaces, UTF-8 kept as is)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)


def _size(obj: Any) -> int:
    return len(to_json(obj))


def _clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters with an explicit marker of what was cut."""
    if text is None or len(text) <= limit:
        return text
    keep = max(limit - 20, 10)
    return f"{text[:keep]}… [+{len(text) - keep} chars]"


def _record_lists(obj: Any) -> list[tuple[dict[str, Any], str, list[Any]]]:
    """Every (parent dict, key, list of dicts) inside ``obj``, outermost first."""
    found: list[tuple[dict[str, Any], str, list[Any]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, list):
                    if v and all(isinstance(i, dict) for i in v):
                        found.append((node, k, v))
                    for item in v:
                        walk(item)
                elif isinstance(v, dict):
                    walk(v)

    walk(obj)
    return found


def fit_budget(payload: dict[str, Any], budget: int, hint: str = "narrow the query") -> dict[str, Any]:
    """``payload`` cut so that its compact JSON is at most ``budget`` characters.

    The largest list of records is shortened first (items kept from the start, so time order
    is kept); each cut list ``key`` gets a sibling ``key + "_omitted"`` such as
    ``"12 more omitted (showing 5 of 17); narrow start/end"``. If that is not enough, the
    longest strings are clipped. Returns a new dict when anything was cut.
    """
    if _size(payload) <= budget:
        return payload
    out = copy.deepcopy(payload)
    totals: dict[tuple[int, str], int] = {}
    exhausted: set[tuple[int, str]] = set()
    while _size(out) > budget:
        cands = [(p, k, lst) for p, k, lst in _record_lists(out) if lst and (id(p), k) not in exhausted]
        if not cands:
            break
        parent, key, lst = max(cands, key=lambda c: _size(c[2]))
        ident = (id(parent), key)
        total = totals.setdefault(ident, len(lst))
        full = list(lst)
        lo, hi, best = 0, len(full) - 1, 0
        while lo <= hi:
            mid = (lo + hi) // 2
            _cut(parent, key, full, mid, total, hint)
            if _size(out) <= budget:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        _cut(parent, key, full, best, total, hint)
        if best == 0:
            exhausted.add(ident)
    # Still too big (long texts): clip the longest strings, halving until it fits.
    limit = 400
    while _size(out) > budget and limit >= 40:
        _clip_strings(out, limit)
        limit //= 2
    if _size(out) > budget:
        return {"error": f"the result does not fit the budget of {budget} characters even when cut; {hint}"}
    return out


def _cut(parent: dict[str, Any], key: str, full: list[Any], k: int, total: int, hint: str) -> None:
    """Keep the first ``k`` items of ``parent[key]`` (out of ``total``) and say how many were left out."""
    parent[key] = full[:k]
    parent[f"{key}_omitted"] = f"{total - k} more omitted (showing {k} of {total}); {hint}"


def _clip_strings(node: Any, limit: int) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str) and not k.endswith("_omitted"):
                node[k] = _clip(v, limit)
            else:
                _clip_strings(v, limit)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, str):
                node[i] = _clip(v, limit)
            else:
                _clip_strings(v, limit)


def tool_function(fn: _F) -> _F:
    """Decorator: a bad argument (:class:`AffectkitError`) becomes ``{"error": message}``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except AffectkitError as exc:
            log.debug("tool %s refused its arguments: %s", fn.__name__, exc)
            return {"error": str(exc)}

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- helpers: arguments

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_UNIT_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(s|sec|secs|second|seconds)$", re.IGNORECASE)
_CLOCK_RE = re.compile(r"^(\d+):([0-5]?\d(?:\.\d+)?)$")
_NULLS = {"", "null", "none", "nil", "undefined"}


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NULLS)


def parse_number(value: Any, name: str, *, what: str = "a number of seconds, e.g. 12.5") -> float | None:
    """``value`` as a finite float; None for null. Numeric strings are accepted.

    Raises:
        ToolArgumentError: for anything else (with the number to write instead where it can tell).
    """
    if _is_null(value):
        return None
    if isinstance(value, bool):
        raise ToolArgumentError(f"{name} must be {what}, not a boolean ({value!r})")
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        x = float(value.strip())
    elif isinstance(value, str):
        s = value.strip()
        m = _UNIT_RE.match(s)
        c = _CLOCK_RE.match(s)
        if m:
            hint = f"; write {name}={float(m.group(1)):g} (plain seconds, no unit)"
        elif c:
            hint = f"; write {name}={int(c.group(1)) * 60 + float(c.group(2)):g} (seconds, not m:ss)"
        else:
            hint = ""
        raise ToolArgumentError(f"{name} must be {what} (got {value!r}){hint}")
    else:
        raise ToolArgumentError(f"{name} must be {what} (got {type(value).__name__} {value!r})")
    if not math.isfinite(x):
        raise ToolArgumentError(f"{name} must be a finite number (got {value!r})")
    return x


def media_end(tl: Timeline) -> float:
    """End of the valid time range: the media duration, or the last timed item if later."""
    ends = [tl.media.duration]
    ends += [u.end for u in tl.utterances]
    ends += [e.end for e in tl.events]
    return max(ends)


def _range_text(tl: Timeline) -> str:
    return f"the video runs from 0 to {_t(media_end(tl))} s"


def parse_time(
    tl: Timeline, value: Any, name: str, *, required: bool = False, default: float | None = None
) -> float:
    """A time argument checked against the media: 0 <= t <= duration (0.01 s tolerance)."""
    x = parse_number(value, name)
    if x is None:
        if required or default is None:
            raise ToolArgumentError(
                f"{name} is required: give seconds from the start of the video as a number "
                f"(e.g. {name}=12.5); {_range_text(tl)}"
            )
        return default
    end = media_end(tl)
    if x < 0 or x > end + 0.01:
        raise ToolArgumentError(f"{name}={x:g} is outside the media: {_range_text(tl)}")
    return min(max(x, 0.0), end)


def parse_window(tl: Timeline, start: Any, end: Any) -> tuple[float, float]:
    """``(start, end)`` defaulting to the whole media; end before start is an error."""
    s = parse_time(tl, start, "start", default=0.0)
    e = parse_time(tl, end, "end", default=media_end(tl))
    if e < s:
        raise ToolArgumentError(
            f"end ({e:g}) is before start ({s:g}); give start <= end (swap them?); {_range_text(tl)}"
        )
    return s, e


def parse_duration(value: Any, name: str, *, default: float, maximum: float | None = None) -> float:
    """A non-negative length of time in seconds."""
    x = parse_number(value, name, what="a length of time in seconds, e.g. 3.0")
    if x is None:
        return default
    if x < 0:
        raise ToolArgumentError(f"{name} must be zero or more seconds (got {x:g}); e.g. {name}={default:g}")
    if maximum is not None and x > maximum:
        raise ToolArgumentError(f"{name}={x:g} s is too long; use at most {maximum:g} s")
    return x


def parse_count(value: Any, name: str, *, default: int, lo: int, hi: int) -> int:
    """An integer count in ``[lo, hi]``."""
    x = parse_number(value, name, what=f"a whole number from {lo} to {hi}")
    if x is None:
        return default
    if x != int(x):
        raise ToolArgumentError(f"{name} must be a whole number from {lo} to {hi} (got {x:g})")
    if not lo <= x <= hi:
        raise ToolArgumentError(f"{name} must be from {lo} to {hi} (got {int(x)})")
    return int(x)


def _people_text(tl: Timeline) -> str:
    parts = []
    for p in tl.people:
        bits = [p.role] if p.role != "unknown" else []
        if p.speaker_label:
            bits.append(f"voice {p.speaker_label}")
        parts.append(f"{p.id} ({', '.join(bits)})" if bits else p.id)
    return ", ".join(parts)


def resolve_person(tl: Timeline, ref: Any, name: str = "person") -> Person | None:
    """The person named by id, speaker label or role (case-insensitive); None for null.

    Raises:
        ToolArgumentError: unknown or ambiguous reference (the message lists the valid ones).
    """
    if _is_null(ref):
        return None
    if not tl.people:
        raise ToolArgumentError(
            f"this timeline has no people (no face or voice was linked to a person), so {name}={ref!r} "
            "cannot be matched; leave it out"
        )
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise ToolArgumentError(
            f"{name} must be a person id such as {tl.people[0].id!r}; valid: {_people_text(tl)}"
        )
    s = str(ref).strip()
    low = s.lower()
    for p in tl.people:
        if p.id.lower() == low:
            return p
    for p in tl.people:
        if p.speaker_label and p.speaker_label.lower() == low:
            return p
    by_role = [p for p in tl.people if p.role == low]
    if len(by_role) == 1:
        return by_role[0]
    if len(by_role) > 1:
        ids = ", ".join(p.id for p in by_role)
        raise ToolArgumentError(
            f"{name}={s!r} is ambiguous: {len(by_role)} people have that role ({ids}); use an id"
        )
    hint = ""
    if isinstance(ref, int) or s.isdigit():
        cand = f"P{s}"
        if tl.person(cand):
            hint = f" (did you mean {cand!r}?)"
    raise ToolArgumentError(
        f"unknown {name} {s!r}{hint}; valid: {_people_text(tl)}. Roles ('interviewer', 'interviewee') "
        "and speaker labels work too"
    )


def parse_kind(value: Any) -> tuple[str, ...] | None:
    """Event kinds selected by ``kind`` (an event kind, an alias, or 'face'/'voice'); None: all."""
    if _is_null(value):
        return None
    valid = ", ".join(EVENT_KINDS)
    if not isinstance(value, str):
        raise ToolArgumentError(f"kind must be one of {valid}, or 'face' / 'voice' (got {value!r})")
    low = value.strip().lower()
    low = _KIND_ALIASES.get(low, _KIND_ALIASES.get(low.replace("_", " "), low))
    if low in EVENT_KINDS:
        return (low,)
    if low in _MODALITY_KINDS:
        return _MODALITY_KINDS[low]
    raise ToolArgumentError(
        f"unknown kind {value!r}; use one of {valid}, or 'face' / 'voice' for a whole modality"
    )


def parse_confidence(value: Any) -> float | None:
    """A confidence threshold in [0, 1]."""
    x = parse_number(value, "min_confidence", what="a number from 0 to 1, e.g. 0.5")
    if x is None:
        return None
    if not 0 <= x <= 1:
        hint = f"; did you mean {x / 100:g}?" if 1 < x <= 100 else ""
        raise ToolArgumentError(f"min_confidence is on a 0-1 scale (got {x:g}){hint}")
    return x


def parse_phrase(value: Any) -> str:
    """A non-empty phrase with at least one word."""
    if _is_null(value) or not isinstance(value, str) or not re.search(r"[A-Za-z0-9]", value):
        raise ToolArgumentError(
            f"phrase must be the words to look for, e.g. phrase='seven now' (got {value!r}); "
            "call get_transcript to see what was said"
        )
    return value.strip()


def _budget(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_BUDGET:
        raise ToolArgumentError(
            f"budget must be a whole number of characters >= {MIN_BUDGET} (got {value!r})"
        )
    return value


# --------------------------------------------------------------------------- helpers: timeline views


class _View:
    """Lookups over one timeline that several tools share."""

    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.by_label = {p.speaker_label: p for p in tl.people if p.speaker_label}
        self.utt_by_id = {u.id: u for u in tl.utterances}

    def who(self, u: Utterance) -> str | None:
        """Person id of an utterance's speaker (the raw label when not linked to a person)."""
        p = self.by_label.get(u.speaker) if u.speaker else None
        return p.id if p else u.speaker

    def utterances_of(self, p: Person) -> list[Utterance]:
        return [u for u in self.tl.utterances if p.speaker_label and u.speaker == p.speaker_label]

    def state_at(self, p: Person, t: float) -> str:
        talking = [u for u in self.tl.utterances if u.start <= t <= u.end]
        if any(p.speaker_label and u.speaker == p.speaker_label for u in talking):
            return "speaking"
        return "listening" if talking else "silent"

    def utterance_brief(self, u: Utterance, text_limit: int = 300) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": u.id,
            "person": self.who(u),
            "start": _t(u.start),
            "end": _t(u.end),
            "text": _clip(u.text, text_limit),
        }
        if u.is_question:
            d["question"] = True
        return d

    def event_brief(self, e: AffectEvent) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": e.id,
            "person": e.person,
            "kind": e.kind,
            "start": _t(e.start),
            "apex": _t(e.apex),
            "end": _t(e.end),
        }
        if e.aus:
            aus = sorted(e.aus, key=lambda a: -a.intensity)
            d["aus"] = [
                f"{a.au} {a.name} {a.intensity:.2f}" + (f" ({a.side})" if a.side in ("left", "right") else "")
                for a in aus
            ]
        if e.emotion:
            score = e.emotion.scores.get(e.emotion.label)
            d["emotion"] = e.emotion.label if score is None else f"{e.emotion.label} {score:.2f}"
        if e.caption:
            d["caption"] = _clip(e.caption, 160)
        d["confidence"] = _t(e.confidence)
        c = e.context
        if c is not None:
            if c.state != "unknown":
                d["state"] = c.state
            if c.reacts_to:
                u = self.utt_by_id.get(c.reacts_to)
                d["reacts_to"] = {
                    "utterance": c.reacts_to,
                    "by": c.reacts_to_speaker or (self.who(u) if u else None),
                    "text": _clip(c.reacts_to_text or (u.text if u else None), 100),
                }
        return d


def _words_text(words: list[Word], mark: float | None = None) -> str:
    """Words as one string; the word spoken at ``mark`` is put in [brackets]."""
    out = []
    marked = False
    for w in words:
        hit = mark is not None and not marked and w.start <= mark <= w.end
        marked = marked or hit
        out.append(f"[{w.text}]" if hit else w.text)
    return " ".join(out)


def _count_words(tl: Timeline) -> int:
    return sum(len(u.words) if u.words else len(u.text.split()) for u in tl.utterances)


# --------------------------------------------------------------------------- the tools


@tool_function
def timeline_overview(timeline: Timeline, *, budget: int = DEFAULT_BUDGET) -> dict[str, Any]:
    """Who is in the video, how long it is and what the timeline holds. Call this first."""
    budget = _budget(budget)
    tl = timeline
    v = _View(tl)
    m = tl.media
    kinds = Counter(e.kind for e in tl.events)
    people = []
    for p in tl.people:
        utts = v.utterances_of(p)
        d: dict[str, Any] = {"id": p.id, "role": p.role}
        if p.speaker_label:
            d["speaker_label"] = p.speaker_label
        d["turns"] = len(utts)
        d["speaking_time"] = _t(sum(u.end - u.start for u in utts))
        d["events"] = sum(1 for e in tl.events if e.person == p.id)
        if p.face_summary is not None:
            d["face_coverage"] = _t(p.face_summary.coverage)
        elif not p.face_track_ids:
            d["face"] = "not seen"
        if p.link_confidence is not None:
            d["face_voice_link"] = _t(p.link_confidence)
        people.append(d)
    unlinked = sorted({u.speaker for u in tl.utterances if u.speaker and u.speaker not in v.by_label})
    out: dict[str, Any] = {
        "media": {
            "file": os.path.basename(m.path) or m.path,
            "duration": _t(m.duration),
            "fps": _t(m.fps),
            "size": f"{m.width}x{m.height}",
            "has_audio": m.has_audio,
        },
        "valid_time_range": [0.0, _t(media_end(tl))],
        "people": people,
        "counts": {
            "utterances": len(tl.utterances),
            "questions": sum(1 for u in tl.utterances if u.is_question),
            "words": _count_words(tl),
            "events": len(tl.events),
            "events_by_kind": dict(sorted(kinds.items())),
        },
    }
    if tl.utterances:
        out["speech_span"] = [_t(min(u.start for u in tl.utterances)), _t(max(u.end for u in tl.utterances))]
    if unlinked:
        out["unlinked_speakers"] = unlinked
    warnings = tl.meta.get("warnings") or []
    if warnings:
        out["analysis_warnings"] = [_clip(str(w), 200) for w in warnings[:5]]
        if len(warnings) > 5:
            out["analysis_warnings_omitted"] = f"{len(warnings) - 5} more warnings omitted"
    if not tl.people and not tl.utterances and not tl.events:
        out["note"] = "the timeline is empty: no faces, speech or events were found"
    out["next_steps"] = (
        "get_transcript for what was said; list_affect_events for facial/vocal events; "
        "person_profile(person) per person; find_reactions(phrase) for listener reactions"
    )
    return fit_budget(out, budget, "ask per person")


@tool_function
def get_transcript(
    timeline: Timeline,
    start: TimeArg = None,
    end: TimeArg = None,
    person: str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """Utterances overlapping ``[start, end]`` (default: the whole video), optionally of one person."""
    budget = _budget(budget)
    tl = timeline
    s, e = parse_window(tl, start, end)
    p = resolve_person(tl, person)
    v = _View(tl)
    utts = tl.utterances_between(s, e)
    if p is not None:
        utts = [u for u in utts if p.speaker_label and u.speaker == p.speaker_label]
    utts = sorted(utts, key=lambda u: (u.start, u.end))
    out: dict[str, Any] = {"window": [_t(s), _t(e)]}
    if p is not None:
        out["person"] = p.id
    out["count"] = len(utts)
    out["utterances"] = [v.utterance_brief(u, text_limit=max(200, budget // 5)) for u in utts]
    if not utts:
        if p is not None and not p.speaker_label:
            out["note"] = f"{p.id} has no voice linked to them (did not speak, or the voice was not linked)"
        else:
            out["note"] = "nobody speaks in this window"
    return fit_budget(out, budget, "narrow start/end or filter by person")


@tool_function
def list_affect_events(
    timeline: Timeline,
    start: TimeArg = None,
    end: TimeArg = None,
    person: str | None = None,
    kind: str | None = None,
    min_confidence: float | str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """Affect events overlapping ``[start, end]``, filtered by person, kind and confidence."""
    budget = _budget(budget)
    tl = timeline
    s, e = parse_window(tl, start, end)
    p = resolve_person(tl, person)
    kinds = parse_kind(kind)
    conf = parse_confidence(min_confidence)
    evs = [
        ev
        for ev in tl.events_between(s, e, person=p.id if p else None)
        if (kinds is None or ev.kind in kinds) and (conf is None or ev.confidence >= conf)
    ]
    evs.sort(key=lambda ev: (ev.apex, ev.id))
    v = _View(tl)
    filters: dict[str, Any] = {}
    if p is not None:
        filters["person"] = p.id
    if kinds is not None:
        filters["kind"] = list(kinds)
    if conf is not None:
        filters["min_confidence"] = conf
    out: dict[str, Any] = {"window": [_t(s), _t(e)]}
    if filters:
        out["filters"] = filters
    out["count"] = len(evs)
    out["events"] = [v.event_brief(ev) for ev in evs]
    if not evs:
        out["note"] = (
            "no events match; widen the window or drop filters"
            if (filters or (s, e) != (0.0, media_end(tl)))
            else "no affect events were detected in this video"
        )
    return fit_budget(out, budget, "narrow start/end, filter by person/kind or raise min_confidence")


@tool_function
def describe_moment(
    timeline: Timeline,
    t: TimeArg = None,
    window: float | str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """What is happening at time ``t``: who speaks (which word), who listens, events active and nearby."""
    budget = _budget(budget)
    tl = timeline
    when = parse_time(tl, t, "t", required=True)
    win = parse_duration(window, "window", default=2.0, maximum=60.0)
    v = _View(tl)
    out: dict[str, Any] = {"t": _t(when), "window": _t(win)}
    out["people"] = [{"id": p.id, "role": p.role, "state": v.state_at(p, when)} for p in tl.people]
    cur = tl.utterance_at(when)
    if cur is not None:
        words = [w for w in cur.words if w.end >= when - 1.5 and w.start <= when + 1.5]
        sp = v.utterance_brief(cur)
        if words:
            sp["words_at_t"] = _words_text(words, mark=when)
        out["speech"] = sp
    else:
        out["speech"] = None
    before = [u for u in tl.utterances if u.end < when]
    after = [u for u in tl.utterances if u.start > when]
    if before:
        prev = max(before, key=lambda u: u.end)
        out["previous_utterance"] = {**v.utterance_brief(prev, 200), "ended_ago": _t(when - prev.end)}
    if after:
        nxt = min(after, key=lambda u: u.start)
        out["next_utterance"] = {**v.utterance_brief(nxt, 200), "starts_in": _t(nxt.start - when)}
    active = [ev for ev in tl.events if ev.start <= when <= ev.end]
    active_ids = {ev.id for ev in active}
    near = [ev for ev in tl.events if ev.id not in active_ids and abs(ev.apex - when) <= win]
    out["events_active"] = [v.event_brief(ev) for ev in sorted(active, key=lambda ev: ev.apex)]
    out["events_nearby"] = [
        {**v.event_brief(ev), "apex_offset": _t(ev.apex - when)}
        for ev in sorted(near, key=lambda ev: abs(ev.apex - when))
    ]
    return fit_budget(out, budget, "use a smaller window")


@tool_function
def find_reactions(
    timeline: Timeline,
    phrase: str | None = None,
    window: float | str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """How each listener's face responded after ``phrase`` was said.

    For every occurrence of the phrase, each person other than its speaker gets the facial
    events whose apex falls between the phrase's first word and ``window`` seconds after its
    last word; ``delay`` is apex minus the end of the phrase (negative: during the phrase).
    """
    budget = _budget(budget)
    tl = timeline
    text = parse_phrase(phrase)
    win = parse_duration(window, "window", default=3.0, maximum=30.0)
    v = _View(tl)
    hits = tl.find_phrase(text)
    out: dict[str, Any] = {"phrase": text, "window": _t(win), "occurrences_found": len(hits)}
    occs = []
    reacted = Counter[str]()
    # facial events per person, sorted by apex, for a bisect per occurrence
    face: dict[str, list[AffectEvent]] = {}
    for ev in sorted((ev for ev in tl.events if ev.modality == "face"), key=lambda ev: (ev.apex, ev.id)):
        face.setdefault(ev.person, []).append(ev)
    apexes = {pid: [ev.apex for ev in evs] for pid, evs in face.items()}
    for u, s, e in hits:
        speaker = v.who(u)
        listeners = [p for p in tl.people if p.id != speaker]
        reactions = []
        for p in listeners:
            mine, keys = face.get(p.id, []), apexes.get(p.id, [])
            evs = mine[bisect.bisect_left(keys, s) : bisect.bisect_right(keys, e + win)]
            r: dict[str, Any] = {"person": p.id, "role": p.role, "state": v.state_at(p, e)}
            r["events"] = [{**v.event_brief(ev), "delay": _t(ev.apex - e)} for ev in evs]
            if evs:
                reacted[p.id] += 1
            else:
                r["note"] = f"no facial event within {win:g} s"
            reactions.append(r)
        occs.append(
            {
                "utterance": u.id,
                "speaker": speaker,
                "said": [_t(s), _t(e)],
                "text": _clip(u.text, 200),
                "reactions": reactions,
            }
        )
    out["occurrences"] = occs
    if not hits:
        out["note"] = (
            "the phrase was not found in the transcript (matching ignores case and punctuation "
            "and needs whole words); try fewer words or call get_transcript"
        )
    elif not tl.people:
        out["note"] = "the timeline has no people, so there are no listeners to report"
    else:
        out["summary"] = {
            pid: f"reacted after {n} of {len(hits)} occurrence(s)" for pid, n in sorted(reacted.items())
        }
    return fit_budget(out, budget, "use a more specific phrase")


@tool_function
def person_profile(
    timeline: Timeline, person: str | None = None, *, budget: int = DEFAULT_BUDGET
) -> dict[str, Any]:
    """One person's baseline (resting AUs, emotions), voice/prosody and event statistics."""
    budget = _budget(budget)
    tl = timeline
    if _is_null(person):
        raise ToolArgumentError(
            f"person is required; valid: {_people_text(tl) or 'none (this timeline has no people)'}"
        )
    p = resolve_person(tl, person)
    assert p is not None
    v = _View(tl)
    out: dict[str, Any] = {"id": p.id, "role": p.role}
    if p.speaker_label:
        out["speaker_label"] = p.speaker_label
    if p.link_confidence is not None:
        out["face_voice_link"] = _t(p.link_confidence)
    fs = p.face_summary
    if fs is not None:
        face: dict[str, Any] = {"seen": [_t(fs.first_seen), _t(fs.last_seen)], "coverage": _t(fs.coverage)}
        top_aus = sorted(fs.mean_aus.items(), key=lambda kv: -kv[1])[:6]
        if top_aus:
            face["baseline_aus"] = {k: _t(x) for k, x in top_aus}
        if fs.emotion_share:
            face["emotion_share"] = {
                k: _t(x) for k, x in sorted(fs.emotion_share.items(), key=lambda kv: -kv[1])[:5]
            }
        if fs.dominant_emotion:
            face["dominant_emotion"] = fs.dominant_emotion
        face["blinks"] = fs.blinks
        if fs.blink_rate_per_min is not None:
            face["blink_rate_per_min"] = _t(fs.blink_rate_per_min)
        if fs.mean_head_pose is not None:
            hp = fs.mean_head_pose
            face["mean_head_pose_deg"] = {"yaw": _t(hp.yaw), "pitch": _t(hp.pitch), "roll": _t(hp.roll)}
        out["face"] = face
    else:
        out["face"] = None if p.face_track_ids else "face not seen"
    utts = v.utterances_of(p)
    voice: dict[str, Any] = {
        "turns": len(utts),
        "speaking_time": _t(sum(u.end - u.start for u in utts)),
        "words": sum(len(u.words) if u.words else len(u.text.split()) for u in utts),
        "questions": sum(1 for u in utts if u.is_question),
    }
    vs = p.voice_summary
    if vs is not None:
        voice.update(
            turns=vs.turns, speaking_time=_t(vs.speaking_time), words=vs.words, questions=vs.questions
        )
        pr = vs.prosody
        if pr is not None:
            pros = {k: _t(x) for k, x in pr.model_dump().items() if x is not None and k != "pause_before"}
            if pros:
                voice["prosody"] = pros
    out["voice"] = voice
    evs = [e for e in tl.events if e.person == p.id]
    stats: dict[str, Any] = {"total": len(evs)}
    if evs:
        stats["by_kind"] = dict(sorted(Counter(e.kind for e in evs).items()))
        states = Counter(e.context.state for e in evs if e.context)
        stats["while"] = dict(sorted(states.items()))
        au_count: Counter[str] = Counter()
        au_names: dict[str, str] = {}
        for e in evs:
            for a in e.aus:
                au_count[a.au] += 1
                au_names[a.au] = a.name
        if au_count:
            stats["dominant_aus"] = [f"{au} {au_names[au]} x{n}" for au, n in au_count.most_common(5)]
        emo = Counter(e.emotion.label for e in evs if e.emotion)
        if emo:
            stats["emotions"] = dict(emo.most_common(5))
        stats["mean_confidence"] = _t(sum(e.confidence for e in evs) / len(evs))
        strongest = sorted(evs, key=lambda e: (-e.confidence, e.apex))[:3]
        stats["strongest"] = [v.event_brief(e) for e in strongest]
    out["events"] = stats
    return fit_budget(out, budget, "use list_affect_events(person=...) for the full list")


@tool_function
def next_utterance_cues(
    timeline: Timeline,
    t: TimeArg = None,
    turns: int | str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """Cues for predicting the next utterance after time ``t`` (as in SayNext-Bench).

    Only what happened up to ``t`` is used: the last ``turns`` utterances (one in progress is
    cut at ``t``), the silence since the last word, the last speaker's affect during their
    turn and each listener's affect over the same span, plus a simple next-speaker guess.
    """
    budget = _budget(budget)
    tl = timeline
    when = parse_time(tl, t, "t", required=True)
    n = parse_count(turns, "turns", default=4, lo=1, hi=20)
    v = _View(tl)
    past: list[dict[str, Any]] = []
    started = sorted((u for u in tl.utterances if u.start <= when), key=lambda u: (u.start, u.end))[-n:]
    for u in started:
        d = v.utterance_brief(u, 300)
        if u.end > when:
            if u.words:
                said = [w.text for w in u.words if w.end <= when]
            else:  # no word times: keep the share of the words that fits the elapsed share of the turn
                toks = u.text.split()
                said = toks[: int(len(toks) * (when - u.start) / max(u.end - u.start, 1e-6))]
                d["cut_estimated"] = True
            d["text"] = " ".join(said)
            d["end"] = _t(when)
            d["in_progress"] = True
            d.pop("question", None)  # a question mark may not have been reached yet
        pr = u.prosody
        if pr is not None and u.end <= when:  # a turn in progress: its prosody would leak the future
            pros = {k: _t(x) for k, x in pr.model_dump().items() if x is not None}
            if pros:
                d["prosody"] = pros
        past.append(d)
    out: dict[str, Any] = {"t": _t(when), "recent_turns": past}
    if not started:
        out["note"] = "nothing has been said before t; the next utterance opens the conversation"
    last = started[-1] if started else None
    last_person = v.who(last) if last else None
    span_start = max(0.0, (last.start if last else when) - 1.0)
    if last is not None:
        out["last_speaker"] = last_person
        out["silence_since_last_word"] = _t(max(0.0, when - min(last.end, when)))
    people_ids = [p.id for p in tl.people]

    def affect(pid: str) -> list[dict[str, Any]]:
        evs = [e for e in tl.events if e.person == pid and span_start <= e.apex <= when]
        return [v.event_brief(e) for e in sorted(evs, key=lambda e: e.apex)]

    out["affect_window"] = [_t(span_start), _t(when)]
    if last_person is not None and last_person in people_ids:
        out["speaker_affect"] = {"person": last_person, "events": affect(last_person)}
    out["listener_affect"] = [
        {"person": pid, "events": affect(pid)} for pid in people_ids if pid != last_person
    ]
    # A transparent next-speaker guess from turn-taking.
    others = [pid for pid in people_ids if pid != last_person]
    if last is not None and last.end > when:
        guess = {"person": last_person, "reason": "they are still speaking at t"}
    elif last is not None and last.is_question and len(others) == 1:
        guess = {"person": others[0], "reason": f"{last_person} just asked a question"}
    elif last is not None and len(others) == 1:
        guess = {
            "person": others[0],
            "reason": "turn-taking: the other person (weak cue; the last speaker may go on)",
        }
    else:
        guess = {"person": None, "reason": "not enough turn-taking evidence"}
    out["next_speaker_guess"] = guess
    out["no_future"] = "only speech and events up to t are included"
    return fit_budget(out, budget, "ask for fewer turns")


def prompt_context(timeline: Timeline) -> dict[str, str]:
    """Values for the prompts' common variables: ``video``, ``duration`` and ``people``.

    >>> load_prompt("affect_analyst", **prompt_context(tl))   # doctest: +SKIP
    """
    tl = timeline
    v = _View(tl)
    lines = []
    for p in tl.people:
        bits = [p.role]
        if p.speaker_label:
            bits.append(f"voice {p.speaker_label}")
        bits.append(f"{len(v.utterances_of(p))} turns")
        bits.append(f"{sum(1 for e in tl.events if e.person == p.id)} affect events")
        lines.append(f"- {p.id}: " + ", ".join(bits))
    return {
        "video": os.path.basename(tl.media.path) or tl.media.path,
        "duration": f"{tl.media.duration:.2f}",
        "people": "\n".join(lines) or "- nobody was detected",
    }


# --------------------------------------------------------------------------- paths: export / load


def resolve_inside(outdir: str | os.PathLike[str], path: Any, *, what: str = "path") -> Path:
    """``path`` (relative to ``outdir``) resolved, refusing anything that leaves ``outdir``.

    Refused: empty or non-string paths, absolute paths and ``~``, ``..`` components, and
    paths that resolve outside the folder through a symlink (existing or dangling).

    Raises:
        ToolArgumentError: with what to give instead.
    """
    if _is_null(path) or not isinstance(path, str) or not path.strip():
        raise ToolArgumentError(
            f"{what} must be a file path relative to the output folder, e.g. 'exports/clip.vtt'"
        )
    raw = path.strip()
    if "\x00" in raw:
        raise ToolArgumentError(f"{what} contains a NUL character; give a plain relative path")
    p = Path(raw)
    if p.is_absolute() or raw.startswith(("~", "\\")) or re.match(r"^[A-Za-z]:", raw):
        raise ToolArgumentError(
            f"{what} {raw!r} is absolute; only paths inside the output folder are allowed, relative to it "
            "(e.g. 'exports/clip.vtt')"
        )
    if ".." in p.parts or ".." in Path(raw.replace("\\", "/")).parts:
        raise ToolArgumentError(
            f"{what} {raw!r} contains '..'; only paths inside the output folder are allowed"
        )
    root = Path(outdir).resolve()
    full = (root / p).resolve()
    if full != root and root not in full.parents:
        raise ToolArgumentError(
            f"{what} {raw!r} resolves outside the output folder (through a symbolic link); refused"
        )
    return full


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root.resolve()).as_posix() or "."


def _subset(tl: Timeline, s: float, e: float, p: Person | None) -> Timeline:
    sub = tl.window(s, e)
    if p is not None:
        sub.utterances = [u for u in sub.utterances if p.speaker_label and u.speaker == p.speaker_label]
        sub.events = [ev for ev in sub.events if ev.person == p.id]
    return sub


def _vtt_time(x: float) -> str:
    ms = round(x * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "->")


def timeline_to_vtt(tl: Timeline) -> str:
    """WebVTT: one cue per utterance (``<v P1>`` voice tag) and one per affect event."""
    v = _View(tl)
    cues: list[tuple[float, float, str, str]] = []
    for u in tl.utterances:
        who = v.who(u) or "unknown"
        cues.append((u.start, u.end, u.id, f"<v {_vtt_escape(who)}>{_vtt_escape(u.text)}"))
    for e in tl.events:
        bits = [f"[{e.person} {e.kind.replace('_', ' ')}]"]
        if e.aus:
            bits.append("+".join(a.au for a in e.aus))
        if e.caption:
            bits.append(e.caption)
        elif e.emotion:
            bits.append(e.emotion.label)
        bits.append(f"(confidence {e.confidence:.2f})")
        end = e.end if e.end > e.start else e.start + 0.04
        cues.append((e.start, end, e.id, _vtt_escape(" ".join(bits))))
    cues.sort(key=lambda c: (c[0], c[1], c[2]))
    lines = ["WEBVTT", ""]
    for s, e, ident, text in cues:
        lines += [ident, f"{_vtt_time(s)} --> {_vtt_time(e)}", text, ""]
    return "\n".join(lines)


@tool_function
def export_timeline(
    timeline: Timeline,
    outdir: str | os.PathLike[str] | None,
    path: str | None = None,
    format: str | None = None,
    start: TimeArg = None,
    end: TimeArg = None,
    person: str | None = None,
) -> dict[str, Any]:
    """Write (a window / one person of) the timeline into the output folder.

    ``path`` is relative to ``outdir`` and must stay inside it; ``format`` is ``json`` (a
    readable subset), ``jsonl`` (the timeline format, loadable again) or ``vtt`` (WebVTT
    captions), defaulting to the path's suffix. ``timeline.jsonl`` is never overwritten.
    """
    from ..io import atomic_write_text

    tl = timeline
    if outdir is None:
        raise ToolArgumentError("export is unavailable: this tool session has no output folder")
    target = resolve_inside(outdir, path)
    root = Path(outdir).resolve()
    if _is_null(format):
        fmt = target.suffix.lstrip(".").lower()
        if fmt not in EXPORT_FORMATS:
            raise ToolArgumentError(
                f"cannot tell the format from {path!r}; end the path with .json, .jsonl or .vtt, or give format"
            )
    else:
        if not isinstance(format, str) or format.strip().lower().lstrip(".") not in EXPORT_FORMATS:
            raise ToolArgumentError(f"format must be one of {', '.join(EXPORT_FORMATS)} (got {format!r})")
        fmt = format.strip().lower().lstrip(".")
        if target.suffix.lower() != _FORMAT_SUFFIX[fmt]:
            raise ToolArgumentError(
                f"path {path!r} does not end with {_FORMAT_SUFFIX[fmt]} for format {fmt!r}; "
                f"e.g. path='exports/subset{_FORMAT_SUFFIX[fmt]}'"
            )
    if target.name == TIMELINE_NAME:
        raise ToolArgumentError(
            f"{TIMELINE_NAME} is the analysed timeline and is never overwritten; choose another name"
        )
    if target.exists() and target.is_dir():
        raise ToolArgumentError(
            f"{path!r} is a folder; give a file name such as {path.rstrip('/')}/subset.{fmt}"
        )
    s, e = parse_window(tl, start, end)
    p = resolve_person(tl, person)
    sub = _subset(tl, s, e, p)
    if fmt == "jsonl":
        sub.to_jsonl(target)
    elif fmt == "vtt":
        atomic_write_text(target, timeline_to_vtt(sub))
    else:
        doc = {
            "media": sub.media.model_dump(mode="json"),
            "window": [s, e],
            "person": p.id if p else None,
            "people": [x.model_dump(mode="json", exclude_none=True) for x in sub.people],
            "utterances": [u.model_dump(mode="json", exclude_none=True) for u in sub.utterances],
            "events": [ev.model_dump(mode="json", exclude_none=True) for ev in sub.events],
        }
        atomic_write_text(target, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    log.info("exported %s (%s)", target, fmt)
    return {
        "written": _rel(root, target),
        "format": fmt,
        "window": [_t(s), _t(e)],
        "person": p.id if p else None,
        "utterances": len(sub.utterances),
        "events": len(sub.events),
        "bytes": target.stat().st_size,
    }


def find_timelines(outdir: str | os.PathLike[str], max_depth: int = 3) -> list[str]:
    """Names (relative folders, ``"."`` for the folder itself) of the timelines under ``outdir``.

    Symlinks are not followed, so nothing outside the folder is listed.
    """
    root = Path(outdir).resolve()
    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if TIMELINE_NAME in filenames and not (here / TIMELINE_NAME).is_symlink():
            names.append(here.relative_to(root).as_posix() or ".")
        if depth >= max_depth:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(names)


@tool_function
def list_timelines(outdir: str | os.PathLike[str] | None, *, budget: int = DEFAULT_BUDGET) -> dict[str, Any]:
    """The analysed timelines under the output folder (for ``load_timeline``)."""
    budget = _budget(budget)
    if outdir is None:
        raise ToolArgumentError("this tool session has no output folder, so there is nothing to list")
    names = find_timelines(outdir)
    out: dict[str, Any] = {"count": len(names), "timelines": [{"name": n} for n in names]}
    return fit_budget(out, budget, "give load_timeline a name directly")


def load_timeline_file(outdir: str | os.PathLike[str], name: Any) -> Timeline:
    """The timeline ``name`` under ``outdir``: a folder holding ``timeline.jsonl``, or a ``.jsonl`` file.

    Raises:
        ToolArgumentError: the name leaves ``outdir`` or names no timeline (the valid names are listed).
        TimelineFormatError: the file is not a valid timeline.
    """
    target = resolve_inside(outdir, name, what="name")
    if target.is_dir():
        target = target / TIMELINE_NAME
        # the file itself may be a symlink out of the folder
        target = resolve_inside(outdir, target.relative_to(Path(outdir).resolve()).as_posix(), what="name")
    if not target.is_file() or target.suffix != ".jsonl":
        names = find_timelines(outdir)
        raise ToolArgumentError(
            f"no timeline named {name!r} in the output folder; valid names: {', '.join(names) or 'none'}"
        )
    return Timeline.from_jsonl(target)


# --------------------------------------------------------------------------- argument schemas
# Each argument is advertised to the model with a precise JSON schema (number, string, enum), but
# accepted as anything: the tool checks the value itself and answers a clear message, so "12s" or
# null from a model never ends in a bare validation error.


def _loose(schema: dict[str, Any], optional: bool = True) -> Any:
    return Annotated[Any, WithJsonSchema({"anyOf": [schema, {"type": "null"}]} if optional else schema)]


OptNumber = _loose({"type": "number"})
OptString = _loose({"type": "string"})
OptKind = _loose({"type": "string", "enum": [*EVENT_KINDS, "face", "voice"]})
OptConfidence = _loose({"type": "number", "minimum": 0, "maximum": 1})
OptTurns = _loose({"type": "integer", "minimum": 1, "maximum": 20})
OptFormat = _loose({"type": "string", "enum": list(EXPORT_FORMATS)})
ReqNumber = _loose({"type": "number"}, optional=False)
ReqString = _loose({"type": "string"}, optional=False)

_START = "Window start, seconds from the beginning of the video (default 0)."
_END = "Window end, seconds from the beginning of the video (default: the end)."
_PERSON = (
    "A person id like 'P1', a speaker label, or a role ('interviewer', 'interviewee'). Default: everyone."
)


class _Args(BaseModel):
    """Base of the tool argument models: unknown argument names are reported, values are checked by the tool."""

    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    """No arguments."""


class TranscriptArgs(_Args):
    start: OptNumber = Field(None, description=_START)
    end: OptNumber = Field(None, description=_END)
    person: OptString = Field(None, description=_PERSON)


class EventsArgs(_Args):
    start: OptNumber = Field(None, description=_START)
    end: OptNumber = Field(None, description=_END)
    person: OptString = Field(None, description=_PERSON)
    kind: OptKind = Field(
        None,
        description="Only this kind of event: micro_expression (< 0.5 s), macro_expression, pitch_peak, "
        "energy_peak, long_pause; or 'face' / 'voice' for a whole modality. Default: all.",
    )
    min_confidence: OptConfidence = Field(
        None, description="Only events with at least this confidence (0-1)."
    )


class MomentArgs(_Args):
    t: ReqNumber = Field(description="The moment, seconds from the beginning of the video.")
    window: OptNumber = Field(
        2.0, description="Seconds around t in which nearby events are listed (default 2)."
    )


class ReactionsArgs(_Args):
    phrase: ReqString = Field(
        description="Words said in the conversation (case and punctuation are ignored)."
    )
    window: OptNumber = Field(
        3.0, description="Seconds after the phrase in which a listener's facial event counts (default 3)."
    )


class ProfileArgs(_Args):
    person: ReqString = Field(
        description="A person id like 'P1', a speaker label, or a role ('interviewer')."
    )


class CuesArgs(_Args):
    t: ReqNumber = Field(
        description="Predict what is said after this time, seconds from the beginning of the video."
    )
    turns: OptTurns = Field(4, description="How many recent turns to include (default 4).")


class ExportArgs(_Args):
    path: ReqString = Field(description="File path relative to the output folder, e.g. 'exports/answer.vtt'.")
    format: OptFormat = Field(
        None,
        description="json (readable subset), jsonl (timeline format) or vtt (WebVTT captions). "
        "Default: from the path's suffix.",
    )
    start: OptNumber = Field(None, description=_START)
    end: OptNumber = Field(None, description=_END)
    person: OptString = Field(
        None, description="Only this person's speech and events (id, speaker label or role)."
    )


class LoadArgs(_Args):
    name: ReqString = Field(
        description="A name from list_timelines: a sub-folder of the output folder, or '.'."
    )


# --------------------------------------------------------------------------- registry and session


@dataclass(frozen=True)
class ToolSpec:
    """One agent tool: its name, description for the model, argument model and what it needs."""

    name: str
    description: str
    args_model: type[BaseModel]
    needs: Literal["timeline", "outdir"] = "timeline"
    read_only: bool = True


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "timeline_overview",
        "Start here. Summarises the analysed video: file, duration and the valid time range (seconds), "
        "the people (id, role interviewer/interviewee, speaker label, turns, speaking time, number of affect "
        "events) and counts of utterances, words and events by kind. No arguments.",
        NoArgs,
    ),
    ToolSpec(
        "get_transcript",
        "What was said: the utterances (id, person, start/end in seconds, text, question flag) overlapping a "
        "time window, optionally of one person. Use it to read the conversation or to find when something was "
        "said. Long results are cut with an explicit 'N more omitted' note; narrow the window to see more.",
        TranscriptArgs,
    ),
    ToolSpec(
        "list_affect_events",
        "Timestamped affect events: facial micro-expressions (< 0.5 s) and macro-expressions with the action "
        "units (AUs) that moved, emotion estimate, caption and confidence, plus voice events (pitch/energy "
        "peaks, long pauses). Each event has start/apex/end in seconds, whether the person was speaking or "
        "listening, and the utterance it most likely reacts to. Filter by window, person, kind, min_confidence.",
        EventsArgs,
    ),
    ToolSpec(
        "describe_moment",
        "Everything at one moment t (seconds): who is speaking and the word being said, who is listening, the "
        "previous and next utterance, events in progress and events whose apex is within 'window' seconds. Use "
        "it to inspect a timestamp you found elsewhere.",
        MomentArgs,
    ),
    ToolSpec(
        "find_reactions",
        "How each listener's face responded after a phrase was said: for every occurrence of the phrase, the "
        "facial events of everyone except its speaker with apex between the phrase's start and 'window' seconds "
        "after its end (delay = seconds after the phrase ended). Use it for 'how did X react when Y said ...'.",
        ReactionsArgs,
    ),
    ToolSpec(
        "person_profile",
        "One person's profile: face baseline (mean AU intensities, emotion shares, blinks, head pose), voice "
        "(turns, speaking time, words, questions, pitch in Hz, energy in dBFS, speaking rate in words/s) and "
        "event statistics (by kind, while speaking/listening, dominant AUs and emotions, strongest events). "
        "Compare an event against this baseline before interpreting it.",
        ProfileArgs,
    ),
    ToolSpec(
        "next_utterance_cues",
        "Cues for predicting what will be said next after time t (seconds), using only what happened up to t: "
        "the recent turns (an utterance in progress is cut at t), silence since the last word, the last "
        "speaker's affect during their turn, each listener's affect over the same span, and a transparent "
        "next-speaker guess.",
        CuesArgs,
    ),
    ToolSpec(
        "export_timeline",
        "Write the timeline, or a window / one person of it, to a file inside the output folder: format json "
        "(readable subset), jsonl (timeline format) or vtt (WebVTT captions of speech and events). 'path' is "
        "relative to the output folder; paths that leave it are refused. Returns what was written.",
        ExportArgs,
        needs="outdir",
        read_only=False,
    ),
    ToolSpec(
        "list_timelines",
        "List the analysed timelines in the output folder (one per analysed video). No arguments.",
        NoArgs,
        needs="outdir",
    ),
    ToolSpec(
        "load_timeline",
        "Switch the other tools to another analysed timeline of the output folder, by a name from "
        "list_timelines. Returns its overview.",
        LoadArgs,
        needs="outdir",
    ),
)
SPECS_BY_NAME = {s.name: s for s in TOOL_SPECS}


def describe_validation_error(tool: str, exc: ValidationError, args_model: type[BaseModel]) -> str:
    """A pydantic validation error of tool arguments as one sentence the model can act on."""
    valid = ", ".join(args_model.model_fields) or "none"
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
        if err.get("type") == "missing":
            desc = args_model.model_fields[loc].description if loc in args_model.model_fields else ""
            parts.append(f"missing required argument {loc!r} ({desc})")
        elif err.get("type") == "extra_forbidden":
            parts.append(f"unknown argument {loc!r}")
        else:
            parts.append(f"{loc}: {err.get('msg')}")
    return f"{tool}: {'; '.join(parts)}. Valid arguments: {valid}"


@dataclass
class ToolResult:
    """What one tool call returned: the data, its compact JSON text, and whether it is an error."""

    data: dict[str, Any]
    text: str
    is_error: bool


@dataclass
class ToolSession:
    """A timeline (and optionally its output folder) that the tools run against.

    Adapters call :meth:`call` with the raw arguments of a model's tool call; it validates
    them, dispatches to the plain functions above and never raises for bad input.
    ``load_timeline`` replaces :attr:`timeline`.
    """

    timeline: Timeline | None = None
    outdir: Path | None = None
    budget: int = DEFAULT_BUDGET
    source: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.outdir is not None:
            self.outdir = Path(self.outdir)
        _budget(self.budget)

    @classmethod
    def from_outdir(cls, outdir: str | os.PathLike[str], *, budget: int = DEFAULT_BUDGET) -> ToolSession:
        """A session over an output folder: loads ``OUTDIR/timeline.jsonl`` when there is one.

        A folder of analyses (``OUTDIR/<name>/timeline.jsonl``, as written by
        ``examples/enrich_dataset.py``) starts with none loaded; ``load_timeline`` picks one.

        Raises:
            TimelineFormatError: the folder is missing or holds no timeline at all.
        """
        from ..errors import TimelineFormatError

        root = Path(outdir)
        if not root.is_dir():
            raise TimelineFormatError(
                f"{root}: no such output folder; run `affectkit analyze VIDEO -o {root}` first"
            )
        names = find_timelines(root)
        if not names:
            raise TimelineFormatError(
                f"{root}: holds no {TIMELINE_NAME} (nor does any sub-folder); run `affectkit analyze VIDEO -o {root}` first"
            )
        tl = Timeline.from_jsonl(root / TIMELINE_NAME) if "." in names else None
        return cls(timeline=tl, outdir=root, budget=budget, source="." if tl else None)

    def specs(self) -> list[ToolSpec]:
        """The tools this session can serve (path tools only with an output folder)."""
        return [s for s in TOOL_SPECS if s.needs != "outdir" or self.outdir is not None]

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> ToolResult:
        """Run tool ``name`` with raw ``arguments``; errors come back as ``{"error": ...}`` results."""
        spec = SPECS_BY_NAME.get(name)
        if spec is None or spec not in self.specs():
            data: dict[str, Any] = {
                "error": f"unknown tool {name!r}; available: {', '.join(s.name for s in self.specs())}"
            }
            return ToolResult(data, to_json(data), True)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            data = {
                "error": f"{name}: arguments must be a JSON object of named values (got {type(arguments).__name__})"
            }
            return ToolResult(data, to_json(data), True)
        try:
            model = spec.args_model.model_validate(arguments)
        except ValidationError as exc:
            data = {"error": describe_validation_error(name, exc, spec.args_model)}
            return ToolResult(data, to_json(data), True)
        kwargs = {k: getattr(model, k) for k in model.model_fields_set}
        try:
            data = self._dispatch(spec, kwargs)
        except AffectkitError as exc:  # e.g. a malformed timeline file given to load_timeline
            data = {"error": str(exc)}
        except Exception as exc:  # a bug: keep the agent loop alive, keep the traceback in the log
            log.exception("tool %s failed", name)
            data = {
                "error": f"{name} failed unexpectedly ({type(exc).__name__}: {exc}); this is a bug in affectkit"
            }
        is_error = "error" in data
        return ToolResult(data, to_json(data), is_error)

    def _dispatch(self, spec: ToolSpec, kwargs: dict[str, Any]) -> dict[str, Any]:
        name = spec.name
        if name == "list_timelines":
            out = list_timelines(self.outdir, budget=self.budget)
            if "error" not in out:
                out["loaded"] = self.source
            return out
        if name == "load_timeline":
            assert self.outdir is not None
            try:
                tl = load_timeline_file(self.outdir, kwargs.get("name"))
            except ToolArgumentError as exc:
                return {"error": str(exc)}
            self.timeline = tl
            self.source = str(kwargs.get("name")).strip()
            return {"loaded": self.source, **timeline_overview(tl, budget=self.budget)}
        if self.timeline is None:
            names = find_timelines(self.outdir) if self.outdir is not None else []
            return {
                "error": "no timeline is loaded; call load_timeline with one of: "
                + (", ".join(names) or "none")
            }
        if name == "export_timeline":
            return export_timeline(self.timeline, self.outdir, **kwargs)
        fn: Callable[..., dict[str, Any]] = _FUNCTIONS[name]
        return fn(self.timeline, **kwargs, budget=self.budget)


_FUNCTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "timeline_overview": timeline_overview,
    "get_transcript": get_transcript,
    "list_affect_events": list_affect_events,
    "describe_moment": describe_moment,
    "find_reactions": find_reactions,
    "person_profile": person_profile,
    "next_utterance_cues": next_utterance_cues,
}

__all__ = [
    "DEFAULT_BUDGET",
    "TOOL_SPECS",
    "ToolResult",
    "ToolSession",
    "ToolSpec",
    "describe_moment",
    "export_timeline",
    "find_reactions",
    "find_timelines",
    "fit_budget",
    "get_transcript",
    "list_affect_events",
    "list_timelines",
    "load_timeline_file",
    "next_utterance_cues",
    "person_profile",
    "prompt_context",
    "resolve_inside",
    "resolve_person",
    "timeline_overview",
    "timeline_to_vtt",
    "to_json",
]
