"""Grammar-constrained recognition: pocketsphinx decoding restricted to a JSGF grammar.

For recordings whose sentences follow a known grammar (command corpora such as GRID, menus,
scripted prompts), recognition constrained to the grammar is far more accurate than a small
open-vocabulary model, and pocketsphinx gives word times from the same acoustic model the
forced aligner uses. ``SpeechConfig(grammar=...)`` / ``affectkit analyze --grammar FILE.jsgf``
use it instead of faster-whisper. Speech regions come from the voice-activity detector; each is
decoded as one utterance of the grammar.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models import resolve
from ..schema import Word
from .audio import SR, speech_regions, to_pcm16

log = logging.getLogger(__name__)

FRAME_RATE = 100  # pocketsphinx frames per second
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "<SIL>"}


def load_grammar(grammar: str | Path) -> str:
    """JSGF text from a path, or the text itself when it starts with ``#JSGF``."""
    text = str(grammar)
    if text.lstrip().startswith("#JSGF"):
        return text
    p = Path(grammar)
    if not p.is_file():
        raise ConfigError(f"grammar {p}: no such file (pass a JSGF file, or JSGF text starting with '#JSGF')")
    return p.read_text(encoding="utf-8")


class GrammarRecognizer:
    """A pocketsphinx decoder searching a JSGF grammar (US-English acoustic model by default)."""

    def __init__(self, grammar: str | Path, model_dir: str | None = None) -> None:
        from pocketsphinx import Decoder

        root = Path(resolve("pocketsphinx_en_us", model_dir).path)
        hmm = root / "en-us" if (root / "en-us" / "mdef").exists() else root
        dic = root / "cmudict-en-us.dict"
        if not dic.exists():
            dic = next(root.glob("*.dict"), dic)
        self.grammar = load_grammar(grammar)
        try:
            self._d = Decoder(samprate=SR, hmm=str(hmm), dict=str(dic), lm=None, loglevel="FATAL")
            self._d.add_jsgf_string("grammar", self.grammar)
            self._d.activate_search("grammar")
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"pocketsphinx could not use the grammar ({exc}); check its JSGF syntax and that every word "
                "is in the pronunciation dictionary"
            ) from exc

    def recognize(self, audio: np.ndarray, start: float = 0.0, end: float | None = None) -> list[Word]:
        """Words of ``audio[start:end]`` (``(n,) float32`` at 16 kHz) decoded as one grammar sentence."""
        a = int(max(0.0, start) * SR)
        b = int((end if end is not None else audio.size / SR) * SR)
        d = self._d
        d.start_utt()
        d.process_raw(to_pcm16(audio[a:b]), full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            return []
        out: list[Word] = []
        lmath = d.get_logmath()
        for seg in d.seg():
            w = seg.word.split("(")[0]
            if w in _FILLERS or not w:
                continue
            out.append(Word(
                text=w,
                start=round(start + seg.start_frame / FRAME_RATE, 3),
                end=round(start + (seg.end_frame + 1) / FRAME_RATE, 3),
                score=round(float(min(1.0, max(0.0, lmath.exp(seg.prob)))), 4),
                aligned=True,
            ))
        return out


def recognize_grammar(audio: np.ndarray, grammar: str | Path, *, model_dir: str | None = None,
                      pad: float = 0.4) -> list[Word]:
    """Words of every speech region of ``audio`` recognised under ``grammar``."""
    rec = GrammarRecognizer(grammar, model_dir)
    dur = audio.size / SR
    words: list[Word] = []
    for s, e in speech_regions(audio):
        words += rec.recognize(audio, max(0.0, s - pad), min(dur, e + pad))
    return words
