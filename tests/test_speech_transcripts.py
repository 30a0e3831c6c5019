"""Transcript formats: every format round-trips; bad files give TranscriptFormatError."""

import json

import pytest

from affectkit.errors import AffectkitError, TranscriptFormatError
from affectkit.schema import Utterance, Word
from affectkit.speech.transcripts import read_rttm, read_transcript, write_rttm, write_transcript


def _utts() -> list[Utterance]:
    w0 = [Word(text="How", start=0.5, end=0.71, speaker="SPEAKER_00", score=0.9),
          Word(text="are", start=0.71, end=0.85, speaker="SPEAKER_00", score=0.8),
          Word(text="you?", start=0.85, end=1.234, speaker="SPEAKER_00", score=0.95)]
    w1 = [Word(text="Fine,", start=1.9, end=2.3, speaker="SPEAKER_01", score=0.7),
          Word(text="F2", start=2.4, end=2.95, speaker="SPEAKER_01", score=0.6),
          Word(text="&", start=3.0, end=3.1, speaker="SPEAKER_01", score=0.5),
          Word(text='"quotes"', start=3.1, end=3.6, speaker="SPEAKER_01", score=0.5)]
    return [
        Utterance(id="u0", speaker="SPEAKER_00", start=0.5, end=1.234, text="How are you?", words=w0),
        Utterance(id="u1", speaker="SPEAKER_01", start=1.9, end=3.6, text='Fine, F2 & "quotes"', words=w1),
    ]


@pytest.mark.parametrize("suffix", [".json", ".srt", ".vtt", ".TextGrid", ".stm"])
def test_round_trip_lines(tmp_path, suffix):
    utts = _utts()
    p = write_transcript(utts, tmp_path / f"talk{suffix}", language="en")
    t = read_transcript(p)
    assert t.timed and t.has_speakers
    assert [u.text for u in t.utterances] == [u.text for u in utts]
    assert [u.speaker for u in t.utterances] == ["SPEAKER_00", "SPEAKER_01"]
    for a, b in zip(t.utterances, utts):
        assert a.start == pytest.approx(b.start, abs=1e-3) and a.end == pytest.approx(b.end, abs=1e-3)
    assert [u.id for u in t.utterances] == ["u0", "u1"]


@pytest.mark.parametrize("suffix", [".json", ".TextGrid"])
def test_round_trip_words(tmp_path, suffix):
    utts = _utts()
    t = read_transcript(write_transcript(utts, tmp_path / f"w{suffix}"))
    assert t.has_word_times
    got = [(w.text, round(w.start, 3), round(w.end, 3), w.speaker) for u in t.utterances for w in u.words]
    want = [(w.text, w.start, w.end, w.speaker) for u in utts for w in u.words]
    assert got == want
    if suffix == ".json":
        assert [w.score for u in t.utterances for w in u.words] == [w.score for u in utts for w in u.words]


def test_rttm_round_trip_keeps_overlap(tmp_path):
    segs = [(0.0, 2.5, "A"), (2.0, 4.0, "B"), (5.25, 6.0, "A")]
    p = write_rttm(segs, tmp_path / "x.rttm")
    assert p.read_text().splitlines()[1] == "SPEAKER x 1 2.000 2.000 <NA> <NA> B <NA> <NA>"
    assert read_rttm(p) == segs
    assert read_rttm(write_transcript(_utts(), tmp_path / "y.rttm")) == [(0.5, 1.234, "SPEAKER_00"), (1.9, 3.6, "SPEAKER_01")]
    with pytest.raises(TranscriptFormatError, match="no words"):
        read_transcript(p)


def test_whisperx_words_without_times_are_placed(tmp_path):
    data = {"segments": [{"start": 1.0, "end": 3.0, "text": "at 1961 now", "words": [
        {"word": "at", "start": 1.0, "end": 1.2, "score": 0.9},
        {"word": "1961"},  # whisperX leaves numbers untimed
        {"word": "now", "start": 2.6, "end": 3.0, "score": 0.8}]}]}
    p = tmp_path / "wx.json"
    p.write_text(json.dumps(data))
    t = read_transcript(p)
    ws = t.utterances[0].words
    assert [w.text for w in ws] == ["at", "1961", "now"]
    assert (ws[1].start, ws[1].end, ws[1].aligned) == (1.2, 2.6, False)


def test_reads_shared_stm_and_rttm(shared_data):
    t = read_transcript(shared_data / "diarization" / "sample.stm")
    assert len(t.utterances) == 13 and t.has_speakers
    assert t.utterances[0].speaker == "Diane" and t.utterances[0].text == "Hello?"
    assert t.utterances[-1].start == pytest.approx(28.445)
    segs = read_rttm(shared_data / "diarization" / "sample.rttm")
    assert len(segs) == 10 and {s[2] for s in segs} == {"speaker90", "speaker91"}
    assert segs[0] == (6.69, 7.12, "speaker90")


def test_plain_text_and_vtt_voice_tags(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("bin blue at F2 now\n")
    t = read_transcript(p)
    assert not t.timed and t.text == "bin blue at F2 now"
    v = tmp_path / "t.vtt"
    v.write_text("WEBVTT\n\nNOTE made by hand\n\n00:01.000 --> 00:02.500 align:start\n<v Anna Smith>Hi &amp; bye</v>\n")
    u = read_transcript(v).utterances[0]
    assert (u.start, u.end, u.speaker, u.text) == (1.0, 2.5, "Anna Smith", "Hi & bye")


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("a.srt", "1\n00:00:01,000 --> 00:00:xx,000\nhi\n", "time stamp"),
        ("a.vtt", "00:01.000 --> 00:02.000\nhi\n", "WEBVTT"),
        ("a.json", "{not json", "not valid JSON"),
        ("a.json", '{"segments": [{"start": 0}]}', "no 'text'"),
        ("a.stm", "f 1 spk zero 2.0 hi\n", "not numbers"),
        ("a.TextGrid", "hello", "not a Praat TextGrid"),
        ("a.doc", "x", "cannot tell the transcript format"),
        ("a.txt", "   \n", "holds no words"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(TranscriptFormatError, match=match) as ei:
        read_transcript(p)
    assert isinstance(ei.value, AffectkitError)


def test_missing_file(tmp_path):
    with pytest.raises(TranscriptFormatError, match="no such transcript"):
        read_transcript(tmp_path / "absent.srt")


def test_short_textgrid_with_word_like_labels(tmp_path):
    p = tmp_path / "short.TextGrid"
    p.write_text('File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n2.5\n<exists>\n1\n"IntervalTier"\n'
                 '"words"\n0\n2.5\n3\n0\n1\n""\n1\n1.5\n"text"\n1.5\n2.5\n"2"\n')
    ws = read_transcript(p).utterances[0].words
    assert [(w.text, w.start, w.end) for w in ws] == [("text", 1.0, 1.5), ("2", 1.5, 2.5)]
