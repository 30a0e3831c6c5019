"""Read and write transcripts: whisperX JSON, SRT, WebVTT, Praat TextGrid, STM, RTTM, plain text.

Everything is read into a :class:`Transcript` (a list of :class:`~affectkit.schema.Utterance`
with words where the format has them) and written from a list of utterances, so any format
converts to any other. RTTM holds speaker turns only (no words): :func:`read_rttm` /
:func:`write_rttm` work with ``(start, end, label)`` segments.

Speakers: whisperX JSON (``speaker`` fields), WebVTT (``<v Name>`` voice tags), STM (the
speaker column), TextGrid (tier names ``"NAME - words"`` / ``"NAME - utterances"``), SRT (a
``NAME: `` prefix, written as ``[NAME]: ``; read when it is bracketed or looks like
``SPEAKER_00``).

Every reader raises :class:`~affectkit.errors.TranscriptFormatError` with the file, the line
and what was expected, never a bare parsing exception.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TranscriptFormatError
from ..schema import Utterance, Word

__all__ = [
    "FORMATS",
    "Transcript",
    "parse_whisperx",
    "read_rttm",
    "read_transcript",
    "to_whisperx",
    "write_rttm",
    "write_transcript",
]

FORMATS = {
    ".json": "whisperx",
    ".srt": "srt",
    ".vtt": "vtt",
    ".textgrid": "textgrid",
    ".stm": "stm",
    ".txt": "txt",
    ".rttm": "rttm",
}
"""File suffix -> format name."""


@dataclass
class Transcript:
    """A transcript read from a file.

    Attributes:
        utterances: the lines, in time order (ids ``u0``, ``u1``...).
        timed: the lines carry real start/end times (False for plain text).
        has_speakers: at least one line names its speaker.
        has_word_times: words carry their own times (whisperX JSON, TextGrid word tiers).
        format: the format it was read from.
        language: the language code, where the file says it.
    """

    utterances: list[Utterance]
    timed: bool = True
    has_speakers: bool = False
    has_word_times: bool = False
    format: str = ""
    language: str | None = None

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances).strip()


def _fmt(path: Path, fmt: str | None) -> str:
    if fmt:
        f = fmt.lower().lstrip(".")
        if f in FORMATS.values():
            return f
        if "." + f in FORMATS:
            return FORMATS["." + f]
        raise TranscriptFormatError(f"unknown transcript format {fmt!r}; known: {', '.join(sorted(set(FORMATS.values())))}")
    f = FORMATS.get(path.suffix.lower())
    if f is None:
        raise TranscriptFormatError(
            f"{path}: cannot tell the transcript format from the suffix {path.suffix!r}; use one of "
            f"{', '.join(sorted(FORMATS))} or pass format="
        )
    return f


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise TranscriptFormatError(f"{path}: no such transcript file")
    raw = path.read_bytes()
    if raw.startswith((b"\xfe\xff", b"\xff\xfe")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _utt(i: int, start: float, end: float, text: str, speaker: str | None = None, words: list[Word] | None = None) -> Utterance:
    start = max(0.0, float(start))
    end = max(start, float(end))
    return Utterance(id=f"u{i}", speaker=speaker or None, start=round(start, 3), end=round(end, 3),
                     text=" ".join(text.split()), words=words or [])


def _renumber(utts: Iterable[Utterance]) -> list[Utterance]:
    ordered = sorted(utts, key=lambda u: (u.start, u.end))
    return [u.model_copy(update={"id": f"u{i}"}) for i, u in enumerate(ordered)]


# ------------------------------------------------------------------ time stamps
def _ts(t: float, sep: str) -> str:
    ms = round(max(0.0, t) * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


_TS_RE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})")


def _parse_ts(s: str, where: str) -> float:
    m = _TS_RE.fullmatch(s.strip())
    if not m:
        raise TranscriptFormatError(f"{where}: {s.strip()!r} is not a time stamp like 00:01:02,345")
    h, mi, se, ms = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(se) + int(ms.ljust(3, "0")) / 1000


# ------------------------------------------------------------------ whisperX JSON
def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def parse_whisperx(data: Any, source: str = "<json>") -> Transcript:
    """A transcript from whisperX's JSON structure (``{"segments": [...]}``, or a bare list of segments)."""
    segs = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segs, list):
        raise TranscriptFormatError(f"{source}: expected whisperX JSON with a 'segments' list")
    utts: list[Utterance] = []
    has_spk = has_wt = False
    for i, s in enumerate(segs):
        if not isinstance(s, dict) or "text" not in s:
            raise TranscriptFormatError(f"{source}: segment {i} has no 'text'")
        start, end = _num(s.get("start")), _num(s.get("end"))
        words: list[Word] = []
        raw_words = s.get("words") or []
        for w in raw_words:
            if not isinstance(w, dict) or "word" not in w:
                raise TranscriptFormatError(f"{source}: segment {i} has a word without 'word'")
            ws, we = _num(w.get("start")), _num(w.get("end"))
            ws = max(0.0, ws) if ws is not None else None
            words.append(
                Word(
                    text=str(w["word"]).strip(),
                    start=ws if ws is not None else 0.0,
                    end=max(ws, we) if ws is not None and we is not None else (ws or 0.0),
                    speaker=w.get("speaker") or s.get("speaker"),
                    score=_num(w.get("score")),
                    aligned=None if ws is not None else False,
                )
            )
            has_wt = has_wt or ws is not None
        timed_words = [(w, rw) for w, rw in zip(words, raw_words) if _num(rw.get("start")) is not None]
        if start is None:
            start = timed_words[0][0].start if timed_words else 0.0
        if end is None:
            end = max((w.end for w, _ in timed_words), default=start)
        words = _fill_word_times(words, raw_words, start, end)
        has_spk = has_spk or bool(s.get("speaker")) or any(w.speaker for w in words)
        utts.append(_utt(i, start, end, str(s["text"]), s.get("speaker"), words))
    lang = data.get("language") if isinstance(data, dict) else None
    return Transcript(_renumber(utts), timed=True, has_speakers=has_spk, has_word_times=has_wt, format="whisperx",
                      language=lang if isinstance(lang, str) else None)


def _fill_word_times(words: list[Word], raw: list[dict], start: float, end: float) -> list[Word]:
    """Words without times (whisperX leaves numbers untimed) get times between their timed neighbours."""
    known = [_num(r.get("start")) is not None for r in raw]
    out = list(words)
    k = 0
    while k < len(out):
        if known[k]:
            k += 1
            continue
        j = k
        while j < len(out) and not known[j]:
            j += 1
        lo = out[k - 1].end if k > 0 else start
        hi = out[j].start if j < len(out) else end
        hi = max(hi, lo)
        step = (hi - lo) / (j - k)
        for m in range(k, j):
            out[m] = out[m].model_copy(update={"start": round(lo + step * (m - k), 3), "end": round(lo + step * (m - k + 1), 3)})
        k = j
    return out


def to_whisperx(utterances: Sequence[Utterance], language: str | None = None) -> dict[str, Any]:
    """whisperX-style JSON structure: ``segments`` (with ``words``) and ``word_segments``."""
    segs = []
    flat = []
    for u in utterances:
        words = []
        for w in u.words:
            d: dict[str, Any] = {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
            if w.score is not None:
                d["score"] = round(w.score, 4)
            if w.speaker or u.speaker:
                d["speaker"] = w.speaker or u.speaker
            words.append(d)
        seg: dict[str, Any] = {"start": round(u.start, 3), "end": round(u.end, 3), "text": u.text, "words": words}
        if u.speaker:
            seg["speaker"] = u.speaker
        segs.append(seg)
        flat += words
    out: dict[str, Any] = {"segments": segs, "word_segments": flat}
    if language:
        out["language"] = language
    return out


# ------------------------------------------------------------------ SRT / WebVTT
_SRT_SPK = re.compile(r"^(?:\[([^\]]{1,60})\]|(SPEAKER_\d+))\s*:\s*")
_VTT_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]*>")


def _cues(text: str, source: str, vtt: bool) -> list[tuple[float, float, list[str], int]]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[tuple[float, float, list[str], int]] = []
    i = 0
    if vtt:
        if not lines or not lines[0].startswith("WEBVTT"):
            raise TranscriptFormatError(f"{source}: line 1: a WebVTT file must start with 'WEBVTT'")
        i = 1
    while i < len(lines):
        line = lines[i].strip()
        if "-->" in line:
            a, b = line.split("-->", 1)
            where = f"{source}: line {i + 1}"
            start = _parse_ts(a, where)
            end = _parse_ts(b.strip().split()[0] if b.strip() else "", where)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            cues.append((start, end, body, i))
        elif vtt and (line.startswith(("NOTE", "STYLE", "REGION"))):
            while i < len(lines) and lines[i].strip():
                i += 1
        else:
            i += 1
    return cues


def _read_srt(text: str, source: str) -> Transcript:
    cues = _cues(text, source, vtt=False)
    if not cues and text.strip():
        raise TranscriptFormatError(f"{source}: no SRT cues found (expected '00:00:01,000 --> 00:00:02,000' lines)")
    utts = []
    for k, (s, e, body, _) in enumerate(cues):
        t = " ".join(body)
        spk = None
        m = _SRT_SPK.match(t)
        if m:
            spk = m.group(1) or m.group(2)
            t = t[m.end():]
        utts.append(_utt(k, s, e, html.unescape(_TAG.sub("", t)), spk))
    return Transcript(_renumber(utts), has_speakers=any(u.speaker for u in utts), format="srt")


def _read_vtt(text: str, source: str) -> Transcript:
    utts = []
    for k, (s, e, body, _) in enumerate(_cues(text, source, vtt=True)):
        t = " ".join(body)
        m = _VTT_VOICE.search(t)
        spk = m.group(1).strip() if m else None
        utts.append(_utt(k, s, e, html.unescape(_TAG.sub("", t)), spk))
    return Transcript(_renumber(utts), has_speakers=any(u.speaker for u in utts), format="vtt")


def _write_srt(utts: Sequence[Utterance]) -> str:
    out = []
    for k, u in enumerate(utts, 1):
        prefix = f"[{u.speaker}]: " if u.speaker else ""
        out.append(f"{k}\n{_ts(u.start, ',')} --> {_ts(u.end, ',')}\n{prefix}{u.text}\n")
    return "\n".join(out)


def _write_vtt(utts: Sequence[Utterance]) -> str:
    out = ["WEBVTT\n"]
    for u in utts:
        body = html.escape(u.text, quote=False)
        if u.speaker:
            body = f"<v {u.speaker}>{body}</v>"
        out.append(f"{u.id}\n{_ts(u.start, '.')} --> {_ts(u.end, '.')}\n{body}\n")
    return "\n".join(out)


# ------------------------------------------------------------------ TextGrid
def _tg_tokens(text: str) -> list[tuple[str, bool]]:
    """Tokens of a TextGrid (long or short form) as ``(value, quoted)``: quoted strings (with
    ``""`` escapes) and bare words/numbers."""
    out: list[tuple[str, bool]] = []
    for m in re.finditer(r'"((?:[^"]|"")*)"|\[\s*\d*\s*\]|([^\s"=\[\]:]+)', text):
        if m.group(1) is not None:
            out.append((m.group(1).replace('""', '"'), True))
        elif m.group(2) is not None:
            out.append((m.group(2), False))  # "[3]" item indices are dropped
    return out


def _is_num(tok: tuple[str, bool]) -> bool:
    return not tok[1] and re.fullmatch(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", tok[0]) is not None


def _read_textgrid(text: str, source: str) -> Transcript:
    toks = _tg_tokens(text)
    head = [t for t, q in toks[:8] if q]
    if "ooTextFile" not in head or "TextGrid" not in head:
        raise TranscriptFormatError(f"{source}: not a Praat TextGrid (expected 'File type = \"ooTextFile\"' and 'Object class = \"TextGrid\"')")
    tiers: list[tuple[str, list[tuple[float, float, str]]]] = []
    i = 0

    def next_num(j: int) -> tuple[float, int]:
        while not _is_num(toks[j]):
            j += 1
        return float(toks[j][0]), j + 1

    def next_str(j: int) -> tuple[str, int]:
        while not toks[j][1]:
            j += 1
        return toks[j][0], j + 1

    try:
        while i < len(toks):
            if toks[i][1] and toks[i][0] in ("IntervalTier", "TextTier"):
                kind = toks[i][0]
                name, j = next_str(i + 1)
                _, j = next_num(j)  # xmin
                _, j = next_num(j)  # xmax
                n_f, j = next_num(j)
                items: list[tuple[float, float, str]] = []
                for _ in range(int(n_f)):
                    a, j = next_num(j)
                    b, j = next_num(j) if kind == "IntervalTier" else (a, j)
                    label, j = next_str(j)
                    items.append((a, b, label))
                tiers.append((name, items))
                i = j
            else:
                i += 1
    except (IndexError, ValueError) as exc:
        raise TranscriptFormatError(f"{source}: the TextGrid is truncated or malformed near token {i} ({exc})") from exc
    word_tiers: dict[str | None, list[Word]] = {}
    utt_tiers: dict[str | None, list[tuple[float, float, str]]] = {}
    for name, items in tiers:
        m = re.fullmatch(r"(.*?)\s*-\s*(words|utterances|phones)", name, flags=re.IGNORECASE)
        spk, kind = (m.group(1) or None, m.group(2).lower()) if m else (None if name.lower() in ("words", "utterances", "transcript") else name,
                                                                       "words" if name.lower() == "words" else "utterances")
        if kind == "phones":
            continue
        clean = [(a, b, t.strip()) for a, b, t in items if t.strip() and t.strip().lower() not in ("sil", "sp", "<sil>")]
        if kind == "words":
            word_tiers[spk] = [Word(text=t, start=round(a, 4), end=round(b, 4), speaker=spk, aligned=True) for a, b, t in clean]
        else:
            utt_tiers[spk] = clean
    utts: list[Utterance] = []
    speakers = set(word_tiers) | set(utt_tiers)
    for spk in speakers:
        words = word_tiers.get(spk, [])
        lines = utt_tiers.get(spk)
        if lines:
            for a, b, t in lines:
                ws = [w for w in words if w.start >= a - 1e-6 and w.end <= b + 1e-6]
                utts.append(_utt(len(utts), a, b, t, spk, ws))
        elif words:
            for group in _group_words(words, max_gap=1.0):
                utts.append(_utt(len(utts), group[0].start, group[-1].end, " ".join(w.text for w in group), spk, group))
    return Transcript(_renumber(utts), has_speakers=any(s for s in speakers), has_word_times=bool(word_tiers), format="textgrid")


def _group_words(words: Sequence[Word], max_gap: float) -> list[list[Word]]:
    groups: list[list[Word]] = []
    for w in words:
        if groups and w.start - groups[-1][-1].end <= max_gap:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _tg_quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _write_textgrid(utts: Sequence[Utterance], duration: float | None) -> str:
    xmax = max([duration or 0.0] + [u.end for u in utts] + [w.end for u in utts for w in u.words])
    speakers: list[str | None] = []
    for u in utts:
        if u.speaker not in speakers:
            speakers.append(u.speaker)
    tiers: list[tuple[str, list[tuple[float, float, str]]]] = []
    for spk in speakers:
        mine = [u for u in utts if u.speaker == spk]
        base = spk if spk else "speaker"
        tiers.append((f"{base} - utterances", [(u.start, u.end, u.text) for u in mine]))
        words = [w for u in mine for w in u.words]
        if words:
            tiers.append((f"{base} - words", [(w.start, w.end, w.text) for w in words]))
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {xmax:.6g}",
             "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for ti, (name, items) in enumerate(tiers, 1):
        filled: list[tuple[float, float, str]] = []
        t = 0.0
        for a, b, txt in sorted(items):
            a = max(a, t)
            if a > t + 1e-9:
                filled.append((t, a, ""))
            b = max(b, a)
            filled.append((a, b, txt))
            t = b
        if t < xmax - 1e-9 or not filled:
            filled.append((t, xmax, ""))
        lines += [f"    item [{ti}]:", '        class = "IntervalTier"', f"        name = {_tg_quote(name)}",
                  "        xmin = 0", f"        xmax = {xmax:.6g}", f"        intervals: size = {len(filled)}"]
        for k, (a, b, txt) in enumerate(filled, 1):
            lines += [f"        intervals [{k}]:", f"            xmin = {a:.6g}", f"            xmax = {b:.6g}",
                      f"            text = {_tg_quote(txt)}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ STM
def _read_stm(text: str, source: str) -> Transcript:
    utts = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(";;"):
            continue
        parts = line.split(None, 5)
        if len(parts) < 5:
            raise TranscriptFormatError(f"{source}: line {n}: an STM line needs 'file channel speaker start end [text]'")
        try:
            start, end = float(parts[3]), float(parts[4])
        except ValueError as exc:
            raise TranscriptFormatError(f"{source}: line {n}: start/end {parts[3]!r} {parts[4]!r} are not numbers") from exc
        body = parts[5] if len(parts) > 5 else ""
        body = re.sub(r"^<[^>]*>\s*", "", body)  # optional <label>
        if body.strip() == "ignore_time_segment_in_scoring":
            continue
        spk = parts[2] if parts[2] not in ("inter_segment_gap", "excluded_region") else None
        utts.append(_utt(len(utts), start, end, body, spk))
    return Transcript(_renumber(utts), has_speakers=any(u.speaker for u in utts), format="stm")


def _write_stm(utts: Sequence[Utterance], file_id: str) -> str:
    return "".join(
        f"{file_id} 1 {(u.speaker or 'unknown').replace(' ', '_')} {u.start:.3f} {u.end:.3f} {u.text}\n" for u in utts
    )


# ------------------------------------------------------------------ RTTM
def read_rttm(path: str | os.PathLike[str]) -> list[tuple[float, float, str]]:
    """Speaker turns ``(start, end, label)`` from an RTTM file (``SPEAKER`` lines), time-ordered."""
    p = Path(path)
    out = []
    for n, line in enumerate(_read_text(p).splitlines(), 1):
        f = line.split()
        if not f or f[0].startswith(";"):
            continue
        if f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise TranscriptFormatError(f"{p}: line {n}: an RTTM SPEAKER line needs at least 8 fields")
        try:
            s, d = float(f[3]), float(f[4])
        except ValueError as exc:
            raise TranscriptFormatError(f"{p}: line {n}: onset/duration {f[3]!r} {f[4]!r} are not numbers") from exc
        out.append((round(s, 3), round(s + d, 3), f[7]))
    return sorted(out)


def write_rttm(segments: Iterable[tuple[float, float, str]], path: str | os.PathLike[str], file_id: str | None = None) -> Path:
    """Write speaker turns as RTTM (atomically)."""
    from ..io import atomic_write_text

    p = Path(path)
    fid = file_id or p.stem
    text = "".join(
        f"SPEAKER {fid} 1 {s:.3f} {e - s:.3f} <NA> <NA> {lab.replace(' ', '_')} <NA> <NA>\n" for s, e, lab in segments
    )
    return atomic_write_text(p, text)


# ------------------------------------------------------------------ entry points
def read_transcript(path: str | os.PathLike[str], format: str | None = None) -> Transcript:
    """Read a transcript; the format comes from the suffix unless ``format`` is given.

    Raises:
        TranscriptFormatError: missing file, unknown format, unparsable content, or an RTTM
            file (speaker turns without words: use :func:`read_rttm`).
    """
    p = Path(path)
    fmt = _fmt(p, format)
    if fmt == "rttm":
        raise TranscriptFormatError(
            f"{p}: RTTM holds speaker turns but no words, so it cannot serve as a transcript; "
            "pass a transcript (whisperX JSON, SRT, VTT, TextGrid, STM or .txt), or read it with read_rttm()"
        )
    text = _read_text(p)
    src = str(p)
    if fmt == "whisperx":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TranscriptFormatError(f"{p}: not valid JSON ({exc})") from exc
        t = parse_whisperx(data, src)
    elif fmt == "srt":
        t = _read_srt(text, src)
    elif fmt == "vtt":
        t = _read_vtt(text, src)
    elif fmt == "textgrid":
        t = _read_textgrid(text, src)
    elif fmt == "stm":
        t = _read_stm(text, src)
    else:
        body = " ".join(text.split())
        t = Transcript([_utt(0, 0.0, 0.0, body)] if body else [], timed=False, format="txt")
    if not any(u.text.strip() for u in t.utterances):
        raise TranscriptFormatError(f"{p}: the transcript holds no words")
    return t


def write_transcript(
    utterances: Sequence[Utterance],
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    language: str | None = None,
    duration: float | None = None,
) -> Path:
    """Write utterances in the format of ``path``'s suffix (or ``format``), atomically.

    RTTM writes the utterances' speaker turns. ``duration`` sets a TextGrid's end time.
    """
    from ..io import atomic_write_text

    p = Path(path)
    fmt = _fmt(p, format)
    utts = sorted(utterances, key=lambda u: (u.start, u.end))
    if fmt == "whisperx":
        text = json.dumps(to_whisperx(utts, language), ensure_ascii=False, indent=1)
    elif fmt == "srt":
        text = _write_srt(utts)
    elif fmt == "vtt":
        text = _write_vtt(utts)
    elif fmt == "textgrid":
        text = _write_textgrid(utts, duration)
    elif fmt == "stm":
        text = _write_stm(utts, p.stem)
    elif fmt == "rttm":
        return write_rttm([(u.start, u.end, u.speaker or "unknown") for u in utts], p)
    else:
        text = "\n".join(u.text for u in utts) + "\n"
    return atomic_write_text(p, text)
