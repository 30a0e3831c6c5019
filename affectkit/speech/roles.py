"""Conversation roles (interviewer / interviewee / unknown) from turn-taking cues.

Cues, per speaker: the share of their utterances that are questions, how long their turns
are (interviewers ask short questions, interviewees answer at length), and who opens the
conversation. The cues are combined into one interviewer score; the two main speakers get
roles only when the scores differ clearly and the would-be interviewer asked at least one
question, or, with no question heard, when they differ twice as clearly (opens the
conversation and takes much shorter turns); otherwise everyone stays ``"unknown"``. A user's
own assignment (``overrides``) always wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..errors import ConfigError
from ..schema import Utterance

ROLES = ("interviewer", "interviewee", "unknown")

_QUESTION_STARTS = frozenset(
    ["what", "why", "how", "when", "where", "who", "whom", "whose", "which", "do", "does", "did", "is", "are", "was", "were", "can", "could", "would", "will", "should", "shall", "may", "might", "have", "has", "had", "am", "isn't", "aren't", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "couldn't"]
)


def is_question(text: str) -> bool:
    """True for a question: it ends with ``?``, or (unpunctuated text only) starts with a
    question word or an inverted auxiliary."""
    t = text.strip()
    if not t:
        return False
    if t.endswith("?") or re.search(r"\?[\"')\]]*$", t):
        return True
    if re.search(r"[.!]$", t):
        return False
    first = re.sub(r"[^a-z']", "", t.split()[0].lower())
    return first in _QUESTION_STARTS


def role_scores(utterances: Sequence[Utterance]) -> dict[str, float]:
    """Interviewer score of each speaker label (higher = more interviewer-like).

    score = 2 x (share of the speaker's turns that hold a question) + 0.5 if the speaker
    opens the conversation + 1 x (1 - the speaker's mean turn length / the longest mean turn
    length among speakers).
    """
    ordered = [u for u in sorted(utterances, key=lambda u: (u.start, u.end)) if u.speaker]
    if not ordered:
        return {}
    turns: dict[str, list[list[Utterance]]] = {}
    prev = None
    for u in ordered:
        if u.speaker != prev:
            turns.setdefault(u.speaker, []).append([])
        turns[u.speaker][-1].append(u)
        prev = u.speaker
    mean_len = {
        s: sum(sum(len(u.text.split()) for u in t) for t in ts) / len(ts) for s, ts in turns.items()
    }
    longest = max(mean_len.values()) or 1.0
    scores: dict[str, float] = {}
    for s, ts in turns.items():
        q_share = sum(1 for t in ts if any(u.is_question if u.is_question is not None else is_question(u.text) for u in t)) / len(ts)
        opens = 0.5 if ordered[0].speaker == s else 0.0
        scores[s] = round(2.0 * q_share + opens + 1.0 * (1.0 - mean_len[s] / longest), 3)
    return scores


def infer_roles(
    utterances: Sequence[Utterance],
    speakers: Sequence[str],
    overrides: Mapping[str, str] | None = None,
    *,
    min_margin: float = 0.5,
) -> dict[str, str]:
    """Role of every speaker label.

    Args:
        utterances: utterances with speakers (``is_question`` used where set).
        speakers: all labels (each gets an entry).
        overrides: label -> role chosen by the user; wins over the cues. With two speakers,
            naming one role fixes the other.
        min_margin: the interviewer's score must beat the next speaker's by this much.

    Raises:
        ConfigError: an override names an unknown role.
    """
    overrides = dict(overrides or {})
    for lab, role in overrides.items():
        if role not in ROLES:
            raise ConfigError(f"role {role!r} for {lab!r} is not one of {', '.join(ROLES)}")
    roles = {s: "unknown" for s in speakers}
    scores = role_scores(utterances)
    talk = {s: sum(len(u.text.split()) for u in utterances if u.speaker == s) for s in speakers}
    main = sorted((s for s in speakers if talk.get(s, 0) > 0), key=lambda s: -talk[s])[:2]
    if len(main) == 2:
        a, b = sorted(main, key=lambda s: -scores.get(s, 0.0))
        asks = any(u.speaker == a and (u.is_question if u.is_question is not None else is_question(u.text))
                   for u in utterances)
        margin = scores.get(a, 0.0) - scores.get(b, 0.0)
        # a question plus a clear margin, or (no question heard) a margin twice as clear
        if (asks and margin >= min_margin) or margin >= 2 * min_margin:
            roles[a], roles[b] = "interviewer", "interviewee"
    if overrides:
        roles.update({k: v for k, v in overrides.items()})
        known = [s for s in speakers if s in overrides]
        others = [s for s in speakers if s not in overrides]
        if len(speakers) == 2 and len(known) == 1 and len(others) == 1:
            given = overrides[known[0]]
            roles[others[0]] = {"interviewer": "interviewee", "interviewee": "interviewer"}.get(given, roles[others[0]])
    return roles


def parse_roles(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"SPEAKER_00=interviewer,SPEAKER_01=interviewee"`` (or a mapping) -> dict.

    Raises:
        ConfigError: malformed text or an unknown role.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        items = []
        for part in str(spec).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"roles: {part!r} should look like SPEAKER_00=interviewer")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    out = {}
    for k, v in items:
        if v not in ROLES:
            raise ConfigError(f"roles: {v!r} (for {k!r}) is not one of {', '.join(ROLES)}")
        out[str(k)] = v
    return out
