"""Text normalisation for speech: written words -> the words a speaker says.

Used twice: forced alignment needs every token to be pronounceable (``"F2"`` is said
``"f two"``, ``"$5"`` is ``"five dollars"``), and word error rate is only fair when the
reference and the hypothesis are written the same way. :func:`spoken_tokens` turns one
written word into its spoken tokens; :func:`normalize_words` does a whole text.

Pure Python, no dependencies, deterministic.
"""

from __future__ import annotations

import re

__all__ = ["FILLERS", "normalize_words", "number_to_words", "spoken_tokens"]

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_SYMBOLS = {
    "&": "and", "%": "percent", "+": "plus", "=": "equals", "@": "at", "#": "number",
    "°": "degrees", "€": "euros", "£": "pounds", "$": "dollars", "×": "times",
}
_ABBREVIATIONS = {
    "mr": ["mister"], "mrs": ["missus"], "ms": ["miz"], "dr": ["doctor"], "vs": ["versus"],
    "etc": ["et", "cetera"], "jr": ["junior"], "sr": ["senior"], "prof": ["professor"],
    "ok": ["okay"], "st": ["saint"],
}
FILLERS = frozenset({"uh", "um", "uhm", "umm", "hmm", "hm", "mm", "mhm", "er", "erm", "ah", "eh"})
"""Hesitation sounds that ASR systems drop; removed before scoring WER."""


def _below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        out.append(_TENS[n // 10])
        if n % 10:
            out.append(_ONES[n % 10])
    elif n > 0 or not out:
        out.append(_ONES[n])
    return out


def number_to_words(n: int, *, year: bool = False) -> list[str]:
    """English words of a non-negative integer.

    ``year=True`` reads 1100-1999 and 2010-2099 in pairs (1961 -> "nineteen sixty one").
    """
    if n < 0:
        return ["minus", *number_to_words(-n)]
    if year and (1100 <= n <= 1999 or 2010 <= n <= 2099) and n % 100 != 0:
        hi, lo = divmod(n, 100)
        return _below_thousand(hi) + (["oh", _ONES[lo]] if lo < 10 else _below_thousand(lo))
    if year and 1100 <= n <= 1900 and n % 100 == 0:
        return _below_thousand(n // 100) + ["hundred"]
    if n == 0:
        return ["zero"]
    out: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            out += number_to_words(n // value) + [name]
            n %= value
    if n:
        out += _below_thousand(n)
    return out


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _digits(s: str) -> list[str]:
    return [_ONES[int(c)] for c in s]


def _number_token(tok: str) -> list[str]:
    """A token made of digits (possibly with ``,`` ``.`` and a suffix) -> words."""
    m = re.fullmatch(r"(\d(?:[\d,]*\d)?)(?:\.(\d+))?(st|nd|rd|th|s|'s)?", tok)
    if not m:
        return _digits(re.sub(r"\D", "", tok))
    whole, frac, suffix = m.group(1).replace(",", ""), m.group(2), m.group(3)
    if len(whole) > 1 and whole.startswith("0"):
        words = _digits(whole)  # "08", "007": read digit by digit
    elif len(whole) > 15:
        words = _digits(whole)
    else:
        n = int(whole)
        words = number_to_words(n, year=(len(m.group(1)) == 4 and frac is None))
    if frac:
        words = words + ["point"] + _digits(frac)
    if suffix in ("st", "nd", "rd", "th"):
        words = _ordinal(words)
    elif suffix in ("s", "'s"):
        last = words[-1]
        words = words[:-1] + [(last[:-1] + "ies") if last.endswith("y") else last + ("es" if last.endswith("x") else "s")]
    return words


_TOKEN_RE = re.compile(r"\d(?:[\d,]*\d)?(?:\.\d+)?(?:st|nd|rd|th|'s|s)?(?![a-z])|\d+|[a-z]+(?:'[a-z]+)*|[^\sa-z\d]")


def spoken_tokens(word: str) -> list[str]:
    """The spoken tokens of one written word, lower-case (may be empty for pure punctuation).

    Examples: ``"F2"`` -> ``["f", "two"]``, ``"1961,"`` -> ``["nineteen", "sixty", "one"]``,
    ``"$5"`` -> ``["five", "dollars"]``, ``"3rd"`` -> ``["third"]``, ``"well-known"`` ->
    ``["well", "known"]``, ``"don't"`` -> ``["don't"]``, ``"50%"`` -> ``["fifty", "percent"]``.
    """
    w = word.lower().replace("\u2019", "'").replace("\u2018", "'").strip()
    if not w:
        return []
    currency = None
    m = re.match(r"^([$€£])(?=\d)", w)
    if m:
        currency = _SYMBOLS[m.group(1)]
        w = w[1:]
    out: list[str] = []
    for tok in _TOKEN_RE.findall(w):
        if tok[0].isdigit():
            out += _number_token(tok)
        elif tok[0].isalpha():
            out += _ABBREVIATIONS.get(tok, [tok])
        elif tok in _SYMBOLS:
            out.append(_SYMBOLS[tok])
    if currency:
        out.append(currency)
    return out


def normalize_words(text: str, *, drop_fillers: bool = True) -> list[str]:
    """A text as a list of normalised spoken words (lower case, no punctuation,
    numbers and symbols spelled out, hesitations removed when ``drop_fillers``)."""
    out: list[str] = []
    for raw in text.split():
        out += spoken_tokens(raw)
    if drop_fillers:
        out = [w for w in out if w not in FILLERS]
    return out
