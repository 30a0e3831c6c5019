"""The whole speech stage (run_speech) on real audio, transcripts and bad input."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from affectkit.errors import ConfigError, TranscriptFormatError
from affectkit.evaluation.speech_metrics import TimedWord, boundary_errors, wer
from affectkit.media import read_audio
from affectkit.schema import MediaInfo, Timeline, Utterance, Word
from affectkit.speech import SpeechConfig, SpeechResult, run_speech
from affectkit.speech.prosody import pitch_track, word_prosody
from affectkit.speech.roles import infer_roles, is_question, parse_roles

LEFT = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
RIGHT = "The horizon seems extremely distant."




@pytest.fixture(scope="module")
def stereo(shared_data):
    with wave.open(str(shared_data / "speech" / "stereo_diarization.wav")) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return x.astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def jfk_result(shared_data) -> SpeechResult:
    return run_speech(read_audio(shared_data / "speech" / "jfk.flac"), SpeechConfig(), progress=False)


def test_jfk_full_stage(jfk_result):
    r = jfk_result
    assert wer("And so my fellow Americans, ask not what your country can do for you, ask what you can do "
               "for your country.", r.text).wer <= 0.10
    assert r.speakers == ["SPEAKER_00"] and r.roles == {"SPEAKER_00": "unknown"}
    assert [u.id for u in r.utterances] == [f"u{i}" for i in range(len(r.utterances))]
    words = r.words
    assert all(w.speaker == "SPEAKER_00" and w.aligned and w.prosody is not None for w in words)
    am = next(w for w in words if w.text.lower().startswith("americans"))
    assert am.start - 0.25 <= 1.8 <= am.end + 0.25, (am.start, am.end)
    u = r.utterances[0]
    assert u.prosody.pitch_median and 80 < u.prosody.pitch_median < 400 and u.prosody.speaking_rate > 1
    assert u.prosody.syllable_rate > u.prosody.speaking_rate
    vs = r.voice_summaries["SPEAKER_00"]
    assert vs.words == len(words) and 6.0 < vs.speaking_time < 11.0 and vs.questions == 0
    assert r.speech_segments and all(lab == "SPEAKER_00" for *_, lab in r.speech_segments)
    assert r.warnings == [] and r.timings["asr"] > 0 and r.timings["align"] > 0
    # the result drops straight into a timeline and survives its JSONL round trip
    tl = Timeline(media=MediaInfo(path="jfk.flac", duration=11.0, fps=0, width=0, height=0), utterances=r.utterances)
    assert Timeline.from_records(list(tl.iter_jsonl_records())) == tl


def test_stereo_split_channels_gives_both_sentences(stereo):
    r = run_speech(stereo, SpeechConfig(channels="split"), progress=False)
    assert r.speakers == ["SPEAKER_00", "SPEAKER_01"]
    by = {s: " ".join(u.text for u in r.utterances if u.speaker == s) for s in r.speakers}
    assert wer(LEFT, by["SPEAKER_00"]).wer <= 0.10 and wer(RIGHT, by["SPEAKER_01"]).wer <= 0.10
    assert r.voice_summaries["SPEAKER_01"].words == 5


def test_stereo_mixed_to_mono_two_speakers(stereo):
    r = run_speech(stereo.mean(axis=1), SpeechConfig(num_speakers=2), progress=False)
    assert r.speakers == ["SPEAKER_00", "SPEAKER_01"]
    words = r.words
    late = {w.speaker for w in words if w.start > 2.9}
    assert len(late) == 1  # "... behind the curtain on the left": the left speaker alone
    assert words[0].speaker != next(iter(late))
    assert "behind the curtain on the left" in " ".join(u.text for u in r.utterances if u.speaker in late).lower()


def test_transcript_mode_aligns_grid_without_asr(tmp_path, grid_dir):
    entry = json.loads((grid_dir / "words.json").read_text())["srwi3s"]
    audio = read_audio(grid_dir / entry["video"])
    p = tmp_path / "t.txt"
    p.write_text(entry["transcript"])
    r = run_speech(audio, SpeechConfig(transcript=p, diarizer="none"), progress=False)
    assert "asr" not in r.timings and r.warnings == []
    truth = [TimedWord(w["word"], w["start"], w["end"]) for w in entry["words"] if w["word"] not in ("sil", "sp")]
    e, matched, _ = boundary_errors(truth, [TimedWord(w.text, w.start, w.end) for w in r.words])
    assert matched == 6 and (e <= 0.05).mean() >= 0.8


def test_transcript_with_speakers_keeps_them(shared_data):
    audio = read_audio(shared_data / "diarization" / "sample.wav")
    r = run_speech(audio, SpeechConfig(transcript=shared_data / "diarization" / "sample.stm"), progress=False)
    assert r.speakers == ["Diane", "Sheila"] and len(r.utterances) == 13
    assert r.utterances[0].text == "Hello?" and r.utterances[0].is_question
    words = r.words
    assert sum(w.aligned for w in words) / len(words) > 0.9
    assert r.voice_summaries["Diane"].questions >= 1
    r2 = run_speech(audio, SpeechConfig(transcript=shared_data / "diarization" / "sample.stm",
                                        roles="Diane=interviewer"), progress=False)
    assert r2.roles == {"Diane": "interviewer", "Sheila": "interviewee"}


def test_transcript_that_does_not_match(tmp_path, grid_dir):
    audio = read_audio(grid_dir / "video" / "bbaf2n.mpg")
    p = tmp_path / "wrong.txt"
    p.write_text("the quick brown fox jumps over the lazy dog")
    r = run_speech(audio, SpeechConfig(transcript=p, diarizer="none"), progress=False)
    assert len(r.words) == 9 and not any(w.aligned for w in r.words)
    assert any("could not be aligned" in w for w in r.warnings)
    with pytest.raises(TranscriptFormatError):
        run_speech(audio, SpeechConfig(transcript=tmp_path / "missing.srt"), progress=False)


@pytest.mark.parametrize(
    "audio, needle",
    [
        (np.zeros(16000 * 3, np.float32), "silent"),
        (np.full(3200, 0.1, np.float32), "too short"),
        ((0.3 * np.sin(2 * np.pi * 440 * np.arange(48000) / 16000)).astype(np.float32), "no speech"),
        ((0.05 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32), "no speech"),
    ],
    ids=["silence", "0.2s", "tone", "noise"],
)
def test_no_speech_gives_empty_result_with_warning(audio, needle):
    r = run_speech(audio, progress=False)
    assert r.utterances == [] and r.speakers == [] and r.speech_segments == []
    assert len(r.warnings) == 1 and needle in r.warnings[0]


def test_bad_config():
    with pytest.raises(ConfigError, match="invalid speech options"):
        run_speech(np.zeros(16000, np.float32), {"beam_size": 0})
    with pytest.raises(ConfigError):
        SpeechConfig(roles="SPEAKER_00=boss")
    assert SpeechConfig(roles="A=interviewer, B=interviewee").roles == {"A": "interviewer", "B": "interviewee"}


def _u(i, spk, start, text):
    n = len(text.split())
    return Utterance(id=f"u{i}", speaker=spk, start=start, end=start + 0.4 * n, text=text)


def test_roles_from_turn_taking():
    utts = [_u(0, "B", 0, "So tell me, what brought you here today?"),
            _u(1, "A", 4, "Well it is a long story that started years ago when I first moved to this city for work."),
            _u(2, "B", 12, "How did that feel?"),
            _u(3, "A", 14, "Honestly it felt strange at first but then I met people and it all became much easier.")]
    assert infer_roles(utts, ["B", "A"]) == {"B": "interviewer", "A": "interviewee"}
    assert infer_roles(utts, ["B", "A"], {"A": "interviewer"}) == {"A": "interviewer", "B": "interviewee"}
    flat = [_u(0, "A", 0, "I like it."), _u(1, "B", 2, "I like it too.")]
    assert infer_roles(flat, ["A", "B"]) == {"A": "unknown", "B": "unknown"}
    assert infer_roles(utts, ["A"]) == {"A": "unknown"}
    assert is_question("what do you mean") and not is_question("what a day.") and is_question('He said "why?"')
    with pytest.raises(ConfigError):
        parse_roles("A:interviewer")


def test_word_prosody_on_a_synthetic_voice():
    sr = 16000
    t = np.arange(sr) / sr
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in (1, 2, 3)).astype(np.float32) * 0.2
    audio = np.concatenate([np.zeros(sr // 2, np.float32), voice, np.zeros(sr // 2, np.float32), voice * 0.1])
    words = [Word(text="aa", start=0.5, end=1.5), Word(text="bb", start=2.0, end=3.0)]
    out = word_prosody(audio, words, pitch_track(audio))
    assert out[0].prosody.pitch_median == pytest.approx(150, abs=3)
    assert out[0].prosody.pitch_range < 10
    assert out[0].prosody.energy_db - out[1].prosody.energy_db == pytest.approx(20, abs=0.5)
    assert out[0].prosody.pause_before is None and out[1].prosody.pause_before == pytest.approx(0.5)
    silent = word_prosody(np.zeros(sr, np.float32), [Word(text="x", start=0.1, end=0.5)])
    assert silent[0].prosody.pitch_median is None


def test_grammar_constrained_recognition_on_grid(shared_data):
    """With the GRID sentence grammar, pocketsphinx recognises GRID clips (letters are the hard
    part) and its word times match the corpus alignment."""
    import json

    from affectkit.media import read_audio
    from affectkit.speech import SpeechConfig, run_speech

    grammar = Path(__file__).resolve().parents[1] / "examples" / "grammars" / "grid.jsgf"
    words = json.loads((shared_data / "grid_s1" / "words.json").read_text())
    errors = n = 0
    for clip in ("bbaf2n", "lgwg2n", "srwi3s", "pric4p"):
        res = run_speech(read_audio(shared_data / "grid_s1" / "video" / f"{clip}.mpg"),
                         SpeechConfig(grammar=str(grammar), diarizer="none"), progress=False)
        r = wer(words[clip]["transcript"], res.text)
        errors += r.substitutions + r.deletions + r.insertions
        n += r.n_ref
        assert len(res.words) == 6 and all(w.aligned for w in res.words)  # one grammar sentence each
        truth = [w for w in words[clip]["words"] if w["word"] not in ("sil", "sp")]
        assert sum(abs(w.start - t["start"]) < 0.05 for w, t in zip(res.words, truth)) >= 4
    assert errors / n <= 0.25
    assert res.text  # the last clip


def test_bad_grammar_is_a_clear_error(tmp_path):
    import numpy as np

    from affectkit.errors import ConfigError
    from affectkit.speech import SpeechConfig, run_speech

    audio = (0.3 * np.sin(np.arange(16000) / 3)).astype(np.float32)
    with pytest.raises(ConfigError, match="no such file"):
        run_speech(audio, SpeechConfig(grammar=str(tmp_path / "nope.jsgf"), diarizer="none"), progress=False)
    with pytest.raises(ConfigError, match="JSGF"):
        run_speech(audio, SpeechConfig(grammar="#JSGF V1.0; grammar g; public <s> = ( ;", diarizer="none"),
                   progress=False)
