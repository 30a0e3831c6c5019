"""Forced alignment with pocketsphinx: exact word times for a known text.

Two uses:

- :func:`refine_words`: ASR words in, the same words out with boundaries placed by the
  acoustic model (whisper's own times are off by about 130 ms on average; aligned ones by
  about 25 ms).
- :func:`align_text` / :func:`align_utterances`: a transcript the user already has (plain
  text, or cues with rough times) aligned to the audio with no ASR at all.

Every written word is turned into its spoken tokens first (:mod:`.textnorm`: ``"F2"`` ->
``"f two"``, ``"$5"`` -> ``"five dollars"``), so numbers, letters and symbols get times too.
Tokens missing from the pronunciation dictionary get one from dictionary pieces (``"zoomcall"``
-> ``zoom`` + ``call``) or from letter-to-sound rules. A word that still cannot be aligned
keeps the times it came with and says so (``aligned=False``); no word is ever dropped.

Alignment runs chunk by chunk (ASR segments or transcript cues, with a margin of audio
around them), so a bad stretch only affects its own words. English only (the acoustic model
that ships with pocketsphinx).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ModelNotFoundError
from ..schema import Utterance, Word
from .audio import SR, check_audio, to_pcm16
from .textnorm import spoken_tokens

log = logging.getLogger(__name__)

FRAME_RATE = 100
"""pocketsphinx frames per second."""

_VALID_PHONES = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH"]
)
_VOWELS = frozenset(["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"])

# letter-to-sound rules, longest grapheme first (a crude fallback for words no dictionary knows)
_G2P_MULTI = [
    ("tion", "SH AH N"), ("sion", "ZH AH N"), ("ough", "AO"), ("eigh", "EY"), ("augh", "AO"),
    ("igh", "AY"), ("tch", "CH"), ("dge", "JH"), ("sch", "S K"),
    ("ph", "F"), ("sh", "SH"), ("ch", "CH"), ("th", "TH"), ("wh", "W"), ("ck", "K"), ("ng", "NG"),
    ("qu", "K W"), ("kn", "N"), ("wr", "R"), ("gh", "G"), ("ee", "IY"), ("ea", "IY"), ("oo", "UW"),
    ("ou", "AW"), ("ow", "OW"), ("oi", "OY"), ("oy", "OY"), ("ai", "EY"), ("ay", "EY"), ("au", "AO"),
    ("aw", "AO"), ("ie", "IY"), ("ei", "EY"), ("ey", "IY"), ("ue", "UW"), ("er", "ER"), ("ir", "ER"),
    ("ur", "ER"), ("ar", "AA R"), ("or", "AO R"),
]
_G2P_SINGLE = {
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH",
    "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R",
    "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "y": "IY", "z": "Z", "'": "",
}


def letter_to_sound(token: str) -> str:
    """A rough ARPABET pronunciation of ``token`` from spelling rules (no dictionary).

    Good enough to give a word a plausible duration in forced alignment; not a real G2P.
    """
    w = re.sub(r"[^a-z']", "", token.lower())
    if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]  # silent final e
    phones: list[str] = []
    i = 0
    while i < len(w):
        for g, p in _G2P_MULTI:
            if w.startswith(g, i):
                phones += p.split()
                i += len(g)
                break
        else:
            c = w[i]
            if c == "y" and i == 0:
                phones.append("Y")
            elif i > 0 and c == w[i - 1] and c not in "aeiou":
                pass  # double consonant
            else:
                phones += _G2P_SINGLE.get(c, "").split()
            i += 1
    return " ".join(p for p in phones if p in _VALID_PHONES)


def syllables(phones: str) -> int:
    """Number of vowels (syllable nuclei) in an ARPABET pronunciation."""
    return sum(1 for p in phones.split() if re.sub(r"\d", "", p) in _VOWELS)


@dataclass(frozen=True)
class AlignedSpan:
    """One aligned word: times in seconds and the acoustic density score (0-1)."""

    start: float
    end: float
    score: float


class ForcedAligner:
    """pocketsphinx forced alignment (English), one decoder reused for every call.

    Args:
        model_dir: folder of the pocketsphinx en-us model (with ``en-us/`` and
            ``cmudict-en-us.dict``); None: :func:`affectkit.models.resolve` ``("pocketsphinx_en_us")``.

    Not thread-safe per instance (a lock serialises calls).
    """

    def __init__(self, model_dir: str | None = None) -> None:
        from .. import models

        try:
            from pocketsphinx import Decoder
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ModelNotFoundError("pocketsphinx is not installed: pip install pocketsphinx") from exc
        root = models.resolve("pocketsphinx_en_us", model_dir).path
        hmm, dic = root / "en-us", root / "cmudict-en-us.dict"
        if not hmm.is_dir() or not dic.is_file():
            raise ModelNotFoundError(
                f"{root} is not a pocketsphinx en-us model folder (needs en-us/ and cmudict-en-us.dict); "
                "pass the folder that pip install pocketsphinx ships (pocketsphinx/model/en-us)"
            )
        self.model_dir = root
        self._decoder = Decoder(samprate=SR, bestpath=False, hmm=str(hmm), dict=str(dic), lm=None, loglevel="FATAL")
        self._lock = threading.Lock()
        self._pron: dict[str, str | None] = {}

    # ------------------------------------------------------------ pronunciations
    def lookup(self, token: str) -> str | None:
        """The dictionary pronunciation of ``token`` (lower case), or None."""
        return self._decoder.lookup_word(token)

    def _compose(self, token: str) -> str | None:
        """Pronunciation from dictionary pieces of at least 3 letters (fewest pieces wins)."""
        n = len(token)
        if n < 6:
            return None
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(i + 3, n + 1):
                p = self.lookup(token[i:j])
                if p is None:
                    continue
                cand = (best[i][0] + 1, best[i][1] + [p])
                if best[j] is None or cand[0] < best[j][0]:
                    best[j] = cand
        return " ".join(best[n][1]) if best[n] is not None else None

    def pronounce(self, token: str) -> str | None:
        """Make sure ``token`` can be aligned; returns its pronunciation (None if impossible)."""
        if token in self._pron:
            return self._pron[token]
        phones = self.lookup(token)
        if phones is None:
            stem = token[:-2] if token.endswith("'s") else None
            if stem and self.lookup(stem):
                phones = self.lookup(stem) + (" Z" if not self.lookup(stem).endswith(("S", "Z")) else " IH Z")
            else:
                phones = self._compose(token) or letter_to_sound(token)
            if phones:
                try:
                    self._decoder.add_word(token, phones, True)
                    log.debug("pronunciation for %r: %s", token, phones)
                except RuntimeError:
                    phones = None
            else:
                phones = None
        self._pron[token] = phones or None
        return self._pron[token]

    # ---------------------------------------------------------------- alignment
    def align_tokens(self, audio: np.ndarray, tokens: Sequence[str], offset: float = 0.0) -> list[AlignedSpan] | None:
        """Align ``tokens`` (pronounceable, lower case) to the whole of ``audio``.

        Args:
            audio: ``(n,) float32`` mono at 16 kHz.
            tokens: the spoken tokens in order.
            offset: seconds added to every time (the position of ``audio`` in the recording).

        Returns:
            one :class:`AlignedSpan` per token, or None when the text cannot be aligned to this
            audio (it does not match, or the audio is too short for it).
        """
        if not tokens or audio.size < int(0.05 * SR):
            return None
        if audio.size < len(tokens) * 3 * SR // FRAME_RATE:
            return None  # fewer than ~3 frames per token: pocketsphinx cannot fit it
        with self._lock:
            try:
                self._decoder.set_align_text(" ".join(tokens))
                self._decoder.start_utt()
                self._decoder.process_raw(to_pcm16(audio), full_utt=True)
                self._decoder.end_utt()
                segs = self._decoder.seg()
                segs = list(segs) if segs is not None else []
            except RuntimeError as exc:
                log.debug("pocketsphinx alignment failed: %s", exc)
                return None
        out: list[AlignedSpan] = []
        for s in segs:
            w = re.sub(r"\(\d+\)$", "", s.word)
            if w.startswith(("<", "[", "+")):
                continue
            out.append(
                AlignedSpan(
                    start=offset + s.start_frame / FRAME_RATE,
                    end=offset + (s.end_frame + 1) / FRAME_RATE,
                    score=float(min(1.0, max(0.0, s.ascore))),
                )
            )
        if len(out) != len(tokens):
            return None
        return out

    def align_words(
        self, audio: np.ndarray, texts: Sequence[str], start: float, end: float
    ) -> list[AlignedSpan | None]:
        """Align written words to ``audio[start:end]`` (seconds).

        Returns one entry per word: its span, or None when the word has no spoken tokens or
        the chunk could not be aligned.
        """
        toks_per_word: list[list[str]] = []
        for t in texts:
            toks = [tok for tok in spoken_tokens(t) if self.pronounce(tok)]
            toks_per_word.append(toks)
        flat = [tok for toks in toks_per_word for tok in toks]
        s0, s1 = max(0, round(start * SR)), min(audio.size, round(end * SR))
        spans = self.align_tokens(audio[s0:s1], flat, offset=s0 / SR) if flat else None
        if spans is None:
            return [None] * len(texts)
        out: list[AlignedSpan | None] = []
        k = 0
        for toks in toks_per_word:
            if not toks:
                out.append(None)
                continue
            part = spans[k : k + len(toks)]
            k += len(toks)
            out.append(AlignedSpan(part[0].start, part[-1].end, float(np.mean([p.score for p in part]))))
        return out

    def word_syllables(self, text: str) -> int:
        """Syllables of a written word, from its pronunciations (at least 1 for a non-empty word)."""
        n = 0
        for tok in spoken_tokens(text):
            p = self.pronounce(tok)
            n += syllables(p) if p else max(1, len(re.findall(r"[aeiouy]+", tok)))
        return n


_ALIGNERS: dict[str, ForcedAligner] = {}


def get_aligner(model_dir: str | None = None) -> ForcedAligner:
    """A shared :class:`ForcedAligner` per model folder."""
    key = str(model_dir or "")
    if key not in _ALIGNERS:
        _ALIGNERS[key] = ForcedAligner(model_dir)
    return _ALIGNERS[key]


# ------------------------------------------------------------------ chunking
def _chunks(words: Sequence[Word], max_gap: float, max_len: float) -> list[tuple[int, int]]:
    """Index ranges ``[i, j)`` of consecutive words with gaps below ``max_gap`` s and spans below ``max_len`` s."""
    out: list[tuple[int, int]] = []
    i = 0
    for j in range(1, len(words) + 1):
        if j == len(words) or words[j].start - words[j - 1].end > max_gap or words[j].end - words[i].start > max_len:
            out.append((i, j))
            i = j
    return out


def refine_words(
    audio: np.ndarray,
    words: Sequence[Word],
    *,
    aligner: ForcedAligner | None = None,
    margin: float = 0.5,
    max_gap: float = 1.0,
    max_chunk: float = 20.0,
    keep_score: bool = True,
    progress: bool = False,
) -> list[Word]:
    """Re-time ``words`` (rough times, e.g. from ASR) by forced alignment.

    Args:
        audio: ``(n,) float32`` mono at 16 kHz.
        words: words in time order.
        aligner: a :class:`ForcedAligner` (default: the shared one).
        margin: seconds of audio added around each chunk (rough times can be off by this much).
        max_gap, max_chunk: chunking (a gap longer than ``max_gap`` s starts a new chunk;
            chunks stay below ``max_chunk`` s).
        keep_score: keep each word's own ``score`` (the ASR probability); otherwise the
            alignment's acoustic score replaces it.
        progress: show a progress bar over the chunks.

    Returns:
        New :class:`Word` objects, one per input word and in the same order: ``aligned=True``
        with the aligned times, or the input times with ``aligned=False`` where alignment
        failed for that word's chunk.
    """
    audio = check_audio(audio)
    if not words:
        return []
    aligner = aligner or get_aligner()
    dur = audio.size / SR
    chunks = _chunks(words, max_gap, max_chunk)
    out: list[Word] = list(words)
    it: Iterable[tuple[int, int]] = chunks
    if progress and len(chunks) > 20:
        from tqdm.auto import tqdm

        it = tqdm(chunks, desc="forced alignment", unit="chunk", leave=False)
    n_failed = 0
    for ci, (i, j) in enumerate(it):
        lo = words[i].start - margin
        hi = words[j - 1].end + margin
        # do not reach into the neighbouring chunks' words
        if ci > 0:
            lo = max(lo, (words[i - 1].end + words[i].start) / 2)
        if j < len(words):
            hi = min(hi, (words[j - 1].end + words[j].start) / 2)
        lo, hi = max(0.0, lo), min(dur, hi)
        spans = aligner.align_words(audio, [w.text for w in words[i:j]], lo, hi)
        if all(s is None for s in spans) and margin < 1.0:
            # rough times may be worse than the margin: try once with more room
            lo2 = max(0.0, words[i].start - 2 * margin - 0.5)
            hi2 = min(dur, words[j - 1].end + 2 * margin + 0.5)
            spans = aligner.align_words(audio, [w.text for w in words[i:j]], lo2, hi2)
        for k, sp in enumerate(spans):
            w = words[i + k]
            if sp is None:
                out[i + k] = w.model_copy(update={"aligned": False})
                n_failed += 1
            else:
                upd = {"start": round(sp.start, 3), "end": round(max(sp.end, sp.start), 3), "aligned": True}
                if not keep_score or w.score is None:
                    upd["score"] = round(sp.score, 4)
                out[i + k] = w.model_copy(update=upd)
    if n_failed:
        log.info("forced alignment kept the original times of %d of %d words", n_failed, len(words))
    return out


def spread_words(text: str, start: float, end: float, speaker: str | None = None) -> list[Word]:
    """Words of ``text`` spread over ``[start, end]`` in proportion to their length
    (``aligned=False``): the fallback times of a transcript line that could not be aligned."""
    toks = text.split()
    if not toks:
        return []
    weights = np.array([max(1, len(t)) for t in toks], dtype=np.float64)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [
        Word(text=t, start=round(float(edges[k]), 3), end=round(float(edges[k + 1]), 3), speaker=speaker, aligned=False)
        for k, t in enumerate(toks)
    ]


def align_text(
    audio: np.ndarray,
    text: str,
    *,
    start: float = 0.0,
    end: float | None = None,
    speaker: str | None = None,
    aligner: ForcedAligner | None = None,
) -> list[Word]:
    """Align a known ``text`` to ``audio[start:end]`` with no ASR.

    Args:
        audio: ``(n,) float32`` mono at 16 kHz.
        text: the words, as written (numbers, letters and symbols are fine).
        start, end: the stretch of audio the text is spoken in (seconds; default all of it).

    Returns:
        One :class:`Word` per whitespace-separated word of ``text``. Aligned words have
        ``aligned=True`` and the alignment's acoustic score; where the text cannot be aligned
        (it does not match the audio) the words are spread over the stretch with
        ``aligned=False``.
    """
    audio = check_audio(audio)
    aligner = aligner or get_aligner()
    dur = audio.size / SR
    end = dur if end is None else min(end, dur)
    if end < start:
        raise ConfigError(f"align_text: end ({end}) is before start ({start})")
    texts = text.split()
    spans = aligner.align_words(audio, texts, start, end)
    fallback = spread_words(text, start, end, speaker)
    out: list[Word] = []
    for t, sp, fb in zip(texts, spans, fallback):
        if sp is None:
            out.append(fb)
        else:
            out.append(Word(text=t, start=round(sp.start, 3), end=round(sp.end, 3), speaker=speaker,
                            score=round(sp.score, 4), aligned=True))
    _fix_unaligned(out)
    return out


def _fix_unaligned(words: list[Word]) -> None:
    """Keep unaligned words inside the gap their aligned neighbours leave (in place)."""
    for k, w in enumerate(words):
        if w.aligned:
            continue
        lo = next((words[j].end for j in range(k - 1, -1, -1) if words[j].aligned), None)
        hi = next((words[j].start for j in range(k + 1, len(words)) if words[j].aligned), None)
        s, e = w.start, w.end
        if lo is not None and s < lo:
            s = lo
        if hi is not None and e > hi:
            e = hi
        e = max(e, s)
        words[k] = w.model_copy(update={"start": round(s, 3), "end": round(e, 3)})


def align_utterances(
    audio: np.ndarray,
    utterances: Sequence[Utterance],
    *,
    margin: float = 0.5,
    aligner: ForcedAligner | None = None,
    progress: bool = False,
) -> tuple[list[Utterance], list[str]]:
    """Align a read transcript (utterances with rough times, text, maybe words) to ``audio``.

    Each utterance is aligned inside its own span plus ``margin`` seconds. Utterances whose
    words already carry times keep those as the fallback; others fall back to their words
    spread over the span.

    Returns:
        ``(utterances, warnings)``: new utterances with aligned words (same ids, speakers and
        text; start/end follow the words), and a message per utterance that could not be aligned.
    """
    audio = check_audio(audio)
    aligner = aligner or get_aligner()
    dur = audio.size / SR
    warnings: list[str] = []
    out: list[Utterance] = []
    it: Iterable[Utterance] = utterances
    if progress and len(utterances) > 20:
        from tqdm.auto import tqdm

        it = tqdm(utterances, desc="aligning transcript", unit="line", leave=False)
    for u in it:
        if u.start >= dur:
            warnings.append(f"transcript line {u.id} starts at {u.start:.2f} s, after the audio ends ({dur:.2f} s)")
            out.append(u.model_copy(update={"words": spread_words(u.text, min(u.start, dur), min(u.end, dur), u.speaker)
                                            if not u.words else [w.model_copy(update={"aligned": False}) for w in u.words]}))
            continue
        texts = [w.text for w in u.words] if u.words else u.text.split()
        if not texts:
            out.append(u)
            continue
        lo, hi = max(0.0, u.start - margin), min(dur, u.end + margin)
        spans = aligner.align_words(audio, texts, lo, hi)
        base = (
            [w.model_copy(update={"aligned": False, "speaker": w.speaker or u.speaker}) for w in u.words]
            if u.words
            else spread_words(u.text, u.start, min(u.end, dur), u.speaker)
        )
        words: list[Word] = []
        for b, sp in zip(base, spans):
            if sp is None:
                words.append(b)
            else:
                words.append(b.model_copy(update={"start": round(sp.start, 3), "end": round(sp.end, 3),
                                                  "score": round(sp.score, 4), "aligned": True}))
        if all(sp is None for sp in spans):
            warnings.append(
                f"transcript line {u.id} ({u.start:.2f}-{u.end:.2f} s, {u.text[:40]!r}) could not be aligned to the "
                "audio; its words keep the transcript's times (aligned=False). Does the transcript belong to this audio?"
            )
        _fix_unaligned(words)
        s = min((w.start for w in words), default=u.start)
        e = max((w.end for w in words), default=u.end)
        out.append(u.model_copy(update={"words": words, "start": s, "end": max(e, s)}))
    return out, warnings
