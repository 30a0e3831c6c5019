"""Plain-text summary of a :class:`~affectkit.schema.Timeline` for terminals and logs."""

from __future__ import annotations

from .schema import Timeline


def _ts(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m):02d}:{s:05.2f}"


def format_summary(tl: Timeline, max_events: int = 40, max_utterances: int = 40) -> str:
    """A human-readable summary: media, people, utterances and events in time order."""
    m = tl.media
    lines = [
        f"media: {m.path}",
        f"  {m.duration:.2f} s, {m.width}x{m.height} @ {m.fps:.2f} fps"
        + (" (variable frame rate)" if m.variable_frame_rate else "")
        + (f", audio {m.sample_rate} Hz" if m.has_audio else ", no audio"),
    ]
    for w in tl.meta.get("warnings", []):
        lines.append(f"  warning: {w}")
    lines.append(f"people: {len(tl.people)}")
    for p in tl.people:
        bits = [p.id, f"role={p.role}"]
        if p.speaker_label:
            bits.append(f"voice={p.speaker_label}")
        if p.face_track_ids:
            bits.append(f"face tracks={p.face_track_ids}")
        fs = p.face_summary
        if fs is not None:
            bits.append(f"seen {_ts(fs.first_seen)}-{_ts(fs.last_seen)} ({fs.coverage:.0%})")
            if fs.dominant_emotion:
                bits.append(f"mostly {fs.dominant_emotion}")
        vs = p.voice_summary
        if vs is not None:
            bits.append(f"spoke {vs.speaking_time:.1f} s in {vs.turns} turns")
        lines.append("  " + ", ".join(bits))
    lines.append(f"utterances: {len(tl.utterances)}")
    for u in tl.utterances[:max_utterances]:
        who = u.speaker or "?"
        lines.append(f"  [{_ts(u.start)}-{_ts(u.end)}] {who}: {u.text}")
    if len(tl.utterances) > max_utterances:
        lines.append(f"  ... {len(tl.utterances) - max_utterances} more")
    lines.append(f"events: {len(tl.events)}")
    for e in sorted(tl.events, key=lambda e: e.apex)[:max_events]:
        aus = ",".join(dict.fromkeys(a.au for a in e.aus))  # unique, in order of evidence
        desc = e.caption or (e.emotion.label if e.emotion else "")
        ctx = ""
        if e.context is not None and e.context.state != "unknown":
            ctx = f" ({e.context.state}"
            if e.context.reacts_to_text:
                ctx += f', reacting to "{e.context.reacts_to_text[:50]}"'
            ctx += ")"
        lines.append(
            f"  [{_ts(e.start)}-{_ts(e.end)} apex {_ts(e.apex)}] {e.person} {e.kind}"
            + (f" {aus}" if aus else "")
            + (f": {desc}" if desc else "")
            + f" conf={e.confidence:.2f}{ctx}"
        )
    if len(tl.events) > max_events:
        lines.append(f"  ... {len(tl.events) - max_events} more")
    return "\n".join(lines)
