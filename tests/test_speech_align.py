"""Forced alignment on real GRID audio against the corpus's own word times."""

import itertools
import json

import numpy as np
import pytest

from affectkit.evaluation.speech_metrics import TimedWord, boundary_errors
from affectkit.media import read_audio
from affectkit.schema import Utterance, Word
from affectkit.speech import align

CLIPS = ["bbaf2n", "lrik4p", "srwi3s", "pric4p", "swih9a", "pgwe6n"]


@pytest.fixture(scope="module")
def grid(grid_dir):
    return json.loads((grid_dir / "words.json").read_text())


def _truth(entry):
    return [TimedWord(w["word"], w["start"], w["end"]) for w in entry["words"] if w["word"] not in ("sil", "sp")]


def test_grid_clips_aligned_with_own_transcript(grid_dir, grid):
    errs = []
    for clip in CLIPS:
        entry = grid[clip]
        audio = read_audio(grid_dir / entry["video"])
        words = align.align_text(audio, entry["transcript"])
        assert [w.text for w in words] == entry["transcript"].split()
        assert all(w.aligned for w in words)
        e, matched, n = boundary_errors(_truth(entry), [TimedWord(w.text, w.start, w.end) for w in words])
        assert matched == n == 6
        errs.append(e)
    e = np.concatenate(errs)
    assert (e <= 0.05).mean() >= 0.8, f"only {(e <= 0.05).mean():.0%} of boundaries within 50 ms"
    assert e.mean() < 0.04


def test_letters_and_digits_written_as_symbols_get_times(grid_dir, grid):
    entry = grid["bbaf2n"]  # "bin blue at f two now"
    audio = read_audio(grid_dir / entry["video"])
    words = align.align_text(audio, "Bin blue at F2 now.")
    assert [w.text for w in words] == ["Bin", "blue", "at", "F2", "now."]
    assert all(w.aligned for w in words)
    f2 = words[3]
    truth = {w["word"]: w for w in entry["words"]}
    assert abs(f2.start - truth["f"]["start"]) <= 0.05 and abs(f2.end - truth["two"]["end"]) <= 0.05


def test_refine_moves_rough_times_onto_the_corpus_times(grid_dir, grid):
    entry = grid["lrik4p"]
    audio = read_audio(grid_dir / entry["video"])
    truth = _truth(entry)
    # rough times: every word shifted by 150 ms and stretched, as an ASR might give them
    rough = [Word(text=t.text, start=t.start + 0.15, end=t.end + 0.2, score=0.5, aligned=False) for t in truth]
    out = align.refine_words(audio, rough)
    assert all(w.aligned for w in out) and [w.score for w in out] == [0.5] * 6
    e, _, _ = boundary_errors(truth, [TimedWord(w.text, w.start, w.end) for w in out])
    assert e.mean() < 0.04 and e.max() < 0.15


def test_unknown_words_get_a_pronunciation():
    a = align.get_aligner()
    assert a.lookup("xyzzyplugh") is None
    assert a.pronounce("xyzzyplugh")  # letter-to-sound fallback
    assert a.pronounce("zoomcallwidget") and a.lookup("zoomcallwidget")  # composed from dictionary pieces
    assert align.letter_to_sound("shtick").split()[0] == "SH"
    assert align.syllables("AH0 M EH1 R AH0 K AH0 N Z") == 4
    assert a.word_syllables("Americans") == 4 and a.word_syllables("F2") == 2


def test_text_that_does_not_match_keeps_words_unaligned(grid_dir, grid):
    audio = read_audio(grid_dir / grid["bbaf2n"]["video"])
    text = "the quick brown fox jumps over the lazy dog"
    words = align.align_text(audio, text, start=0.5, end=2.5)
    assert [w.text for w in words] == text.split()  # never dropped
    assert not any(w.aligned for w in words)
    assert words[0].start == pytest.approx(0.5) and words[-1].end == pytest.approx(2.5)
    assert all(b.start >= a.end - 1e-9 for a, b in itertools.pairwise(words))


def test_align_utterances_reports_lines_that_fail(grid_dir, grid):
    audio = read_audio(grid_dir / grid["bbaf2n"]["video"])
    utts = [Utterance(id="u0", start=0.8, end=2.2, text="bin blue at f two now", speaker="A"),
            Utterance(id="u1", start=2.2, end=2.9, text="completely different words here now", speaker="B")]
    out, warnings = align.align_utterances(audio, utts)
    assert all(w.aligned for w in out[0].words) and out[0].words[0].speaker == "A"
    assert not any(w.aligned for w in out[1].words) and len(out[1].words) == 5
    assert len(warnings) == 1 and "u1" in warnings[0] and "could not be aligned" in warnings[0]


def test_silence_and_tiny_audio_do_not_align():
    a = align.get_aligner()
    assert a.align_tokens(np.zeros(800, np.float32), ["hello"]) is None
    words = align.align_text(np.zeros(16000, np.float32), "hello world")
    assert len(words) == 2 and not any(w.aligned for w in words)
