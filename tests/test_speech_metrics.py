"""Text normalisation, WER, word-boundary error and DER: exact values on hand-made cases."""

import numpy as np
import pytest

from affectkit.evaluation.speech_metrics import (
    TimedWord,
    boundary_errors,
    boundary_summary,
    corpus_wer,
    der,
    edit_alignment,
    wer,
)
from affectkit.speech.textnorm import normalize_words, number_to_words, spoken_tokens


@pytest.mark.parametrize(
    "word, tokens",
    [
        ("F2", ["f", "two"]),
        ("M4.", ["m", "four"]),
        ("1961,", ["nineteen", "sixty", "one"]),
        ("$5", ["five", "dollars"]),
        ("3rd", ["third"]),
        ("21st", ["twenty", "first"]),
        ("50%", ["fifty", "percent"]),
        ("08", ["zero", "eight"]),
        ("1,200", ["one", "thousand", "two", "hundred"]),
        ("3.14", ["three", "point", "one", "four"]),
        ("1960s", ["nineteen", "sixties"]),
        ("R&D", ["r", "and", "d"]),
        ("well-known", ["well", "known"]),
        ("don't", ["don't"]),
        ("Mr.", ["mister"]),
        ("Americans,", ["americans"]),
        ("—", []),
    ],
)
def test_spoken_tokens(word, tokens):
    assert spoken_tokens(word) == tokens


def test_number_to_words():
    assert number_to_words(0) == ["zero"]
    assert number_to_words(115) == ["one", "hundred", "fifteen"]
    assert number_to_words(2_000_017) == ["two", "million", "seventeen"]
    assert number_to_words(1905, year=True) == ["nineteen", "oh", "five"]
    assert number_to_words(2005, year=True) == ["two", "thousand", "five"]


def test_wer_normalises_numbers_case_punctuation_and_fillers():
    r = wer("bin blue at f two now", "Bin blue at F2, now.")
    assert (r.errors, r.n_ref, r.wer) == (0, 6, 0.0)
    r = wer("bin blue at f two now", "Um, been blue F2 now")
    assert (r.substitutions, r.deletions, r.insertions) == (1, 1, 0)
    assert r.wer == pytest.approx(2 / 6)
    raw = wer("bin blue at f two now", "Bin blue at F2 now", normalize=False)
    assert raw.errors == 3  # Bin, F2 vs f two: one substitution, one deletion, one substitution
    total = corpus_wer([("a b c d", "a b c d"), ("e f", "e x f y")])
    assert (total.errors, total.n_ref) == (2, 6) and total.wer == pytest.approx(1 / 3)
    assert normalize_words("Um, I paid $1,200.") == ["i", "paid", "one", "thousand", "two", "hundred", "dollars"]


def test_edit_alignment_prefers_matches():
    pairs = edit_alignment(["a", "b", "c"], ["a", "x", "b", "c"])
    assert pairs == [(0, 0), (None, 1), (1, 2), (2, 3)]


def test_boundary_errors_match_words_and_skip_inner_boundaries():
    ref = [TimedWord("bin", 0.95, 1.18), TimedWord("blue", 1.18, 1.36), TimedWord("f", 1.42, 1.64),
           TimedWord("two", 1.64, 1.89)]
    hyp = [TimedWord("Bin", 1.00, 1.18), TimedWord("glue", 1.2, 1.3), TimedWord("F2", 1.40, 1.95)]
    e, matched, n_ref = boundary_errors(ref, hyp)
    # bin: start 50 ms, end 0; "glue" is not scored; F2: start of f (20 ms) and end of two (60 ms)
    assert matched == 3 and n_ref == 4
    assert sorted(np.round(e * 1000).astype(int).tolist()) == [0, 20, 50, 60]
    s = boundary_summary(e)
    assert s["boundary_mean_ms"] == pytest.approx(32.5) and s["within_50ms"] == pytest.approx(0.75)
    assert s["boundary_median_ms"] == pytest.approx(35.0)


def test_der_perfect_relabelled_and_partial():
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    assert der(ref, [(0.0, 10.0, "x"), (10.0, 20.0, "y")]).der == pytest.approx(0.0)
    # one speaker for everything: B's 10 s are confused (collar 0 for exact numbers)
    r = der(ref, [(0.0, 20.0, "x")], collar=0.0)
    assert (r.confusion, r.total, r.der) == pytest.approx((10.0, 20.0, 0.5))
    # missed and false alarm
    r = der(ref, [(0.0, 8.0, "x"), (10.0, 22.0, "y")], collar=0.0)
    assert (r.missed, r.false_alarm, r.confusion) == pytest.approx((2.0, 2.0, 0.0))
    assert r.der == pytest.approx(0.2)


def test_der_collar_and_overlap():
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    # boundary placed 0.2 s late: inside the 0.25 s collar, forgiven
    assert der(ref, [(0.0, 10.2, "x"), (10.2, 20.0, "y")]).der == pytest.approx(0.0)
    # 0.5 s late: 0.25 s of it is outside the collar; scored time loses 0.25 + 0.5 + 0.25 s of collars
    r = der(ref, [(0.0, 10.5, "x"), (10.5, 20.0, "y")])
    assert r.total == pytest.approx(19.0) and r.confusion == pytest.approx(0.25)
    # overlap: both speak 8-12; a hypothesis with one voice there misses the second one
    ref_ov = [(0.0, 12.0, "A"), (8.0, 20.0, "B")]
    r = der(ref_ov, [(0.0, 10.0, "x"), (10.0, 20.0, "y")], collar=0.0)
    assert r.total == pytest.approx(24.0) and r.missed == pytest.approx(4.0) and r.confusion == pytest.approx(0.0)
    assert der(ref_ov, [(0.0, 10.0, "x"), (10.0, 20.0, "y")], collar=0.0, skip_overlap=True).der == pytest.approx(0.0)
