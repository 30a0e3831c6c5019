import json

import pytest
from pydantic import ValidationError

from affectkit.errors import TimelineFormatError
from affectkit.schema import (
    AffectEvent,
    AUActivation,
    EmotionEstimate,
    EventContext,
    EventEvidence,
    FaceSummary,
    HeadPose,
    MediaInfo,
    Person,
    Prosody,
    Timeline,
    Utterance,
    VoiceSummary,
    Word,
    WordProsody,
)


def rich_timeline() -> Timeline:
    media = MediaInfo(path="clip.mp4", duration=24.064, fps=25.0, width=720, height=288, n_frames=600,
                      has_audio=True, sample_rate=16000, audio_channels=1, video_codec="h264", audio_codec="aac")
    words = [
        Word(text="bin", start=0.1 + 0.2, end=0.55, speaker="SPEAKER_00", score=0.91, aligned=True,
             prosody=WordProsody(pitch_median=121.5, pitch_range=33.25, energy_db=-18.0, pause_before=0.0)),
        Word(text="F2", start=0.55, end=1e-7 + 0.9, speaker="SPEAKER_00", score=None, aligned=False),
    ]
    utt = Utterance(id="u0", speaker="SPEAKER_00", start=0.3, end=0.9000001, text="bin F2", words=words,
                    prosody=Prosody(pitch_median=120.0, speaking_rate=3.3333333333333335), is_question=False)
    people = [
        Person(id="P1", face_track_ids=[0, 3], speaker_label="SPEAKER_00", role="interviewee",
               face_summary=FaceSummary(frames=590, first_seen=0.0, last_seen=23.96, coverage=0.9833333333333333,
                                        mean_aus={"AU12": 0.12, "AU6": 0.05}, emotion_share={"neutral": 0.9},
                                        dominant_emotion="neutral", blinks=7, blink_rate_per_min=17.5,
                                        mean_head_pose=HeadPose(yaw=-3.5, pitch=2.0, roll=0.25)),
               voice_summary=VoiceSummary(speaking_time=12.5, turns=3, words=36), link_confidence=0.8),
        Person(id="P2"),
    ]
    ev = AffectEvent(
        id="e1", person="P1", start=3.04, apex=3.2, end=3.36, modality="face", kind="micro_expression",
        aus=[AUActivation(au="AU12", name="lip corner puller", intensity=0.4, evidence="flow", side="both")],
        emotion=EmotionEstimate(label="happiness", scores={"happiness": 0.7, "neutral": 0.3}, source="emfacs"),
        caption="a brief smile", confidence=0.66,
        context=EventContext(state="listening", speaker_at_apex="P2", words=[words[0]], reacts_to="u0",
                             reacts_to_text="bin F2", reacts_to_speaker="P2"),
        evidence=EventEvidence(track_id=0, onset_frame=76, apex_frame=80, offset_frame=84,
                               rois={"mouth_l": 0.6}, scores={"peak": 2.5}, detector="prior-guided"),
    )
    return Timeline(media=media, people=people, utterances=[utt], events=[ev],
                    meta={"affectkit_version": "0.1.0", "warnings": ["w"], "nested": {"a": [1, 2.5, None]}})


def test_round_trip_is_exact(tmp_path):
    tl = rich_timeline()
    p = tl.to_jsonl(tmp_path / "timeline.jsonl")
    back = Timeline.from_jsonl(p)
    assert back == tl
    assert back.utterances[0].words[0].start == 0.1 + 0.2  # float bits survive
    assert back.utterances[0].words[1].end == 1e-7 + 0.9
    # writing the read-back timeline gives the same bytes
    p2 = back.to_jsonl(tmp_path / "again.jsonl")
    assert p.read_bytes() == p2.read_bytes()


def test_jsonl_layout(tmp_path):
    p = rich_timeline().to_jsonl(tmp_path / "t.jsonl")
    recs = [json.loads(line) for line in p.read_text().splitlines()]
    assert [r["type"] for r in recs] == ["media", "person", "person", "utterance", "event"]
    assert recs[0]["format_version"] == 1
    assert recs[3]["words"][1]["text"] == "F2"
    assert recs[4]["aus"][0]["au"] == "AU12"


def test_from_jsonl_accepts_outdir(tmp_path):
    rich_timeline().to_jsonl(tmp_path / "timeline.jsonl")
    assert Timeline.from_jsonl(tmp_path).media.n_frames == 600


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "no 'media' record"),
        ('{"type": "media", "format_version": 1, "path": "x", "duration": 1, "fps": 1, "width": 1, "height": 1}\n{oops\n',
         "not valid JSON"),
        ('{"type": "person", "id": "P1"}\n', "first line must be the 'media' record"),
        ('{"type": "media", "format_version": 99, "path": "x", "duration": 1, "fps": 1, "width": 1, "height": 1}\n',
         "format version 99"),
        ('{"type": "media", "format_version": 1, "path": "x", "duration": 1, "fps": 1, "width": 1, "height": 1}\n'
         '{"type": "gizmo"}\n', "unknown record type"),
        ('{"type": "media", "format_version": 1, "path": "x", "duration": 1, "fps": 1, "width": 1, "height": 1}\n'
         '{"type": "event", "id": "e", "person": "P", "start": 2, "apex": 5, "end": 3, "modality": "face",'
         ' "kind": "micro_expression", "confidence": 0.5}\n', "apex 5"),
        ("[1, 2]\n", "not an object"),
    ],
)
def test_malformed_files_raise_clear_errors(tmp_path, content, needle):
    p = tmp_path / "t.jsonl"
    p.write_text(content)
    with pytest.raises(TimelineFormatError, match=needle):
        Timeline.from_jsonl(p)


def test_missing_file_message(tmp_path):
    with pytest.raises(TimelineFormatError, match="affectkit analyze"):
        Timeline.from_jsonl(tmp_path / "nope.jsonl")


def test_validation_rejects_nonsense():
    with pytest.raises(ValidationError):
        Word(text="x", start=2.0, end=1.0)
    with pytest.raises(ValidationError):
        Word(text="x", start=float("nan"), end=1.0)
    with pytest.raises(ValidationError):
        AUActivation(au="smile", name="?", intensity=0.5, evidence="flow")
    with pytest.raises(ValidationError):
        AUActivation(au="AU12", name="?", intensity=1.5, evidence="flow")
    with pytest.raises(ValidationError):
        MediaInfo(path="x", duration=1, fps=1, width=1, height=1, bogus=3)


def test_queries():
    tl = rich_timeline()
    assert [u.id for u in tl.utterances_between(0.0, 0.35)] == ["u0"]
    assert tl.utterances_between(1.0, 2.0) == []
    assert [e.id for e in tl.events_between(3.3, 4.0, person="P1")] == ["e1"]
    assert tl.events_between(3.3, 4.0, person="P2") == []
    assert tl.utterance_at(0.5).id == "u0" and tl.utterance_at(5.0) is None
    hits = tl.find_phrase("F2")
    assert len(hits) == 1 and hits[0][1] == 0.55
    assert tl.find_phrase("bin f2")[0][1] == pytest.approx(0.3)
    assert tl.find_phrase("nothing here") == []
    w = tl.window(3.0, 3.1)
    assert w.utterances == [] and len(w.events) == 1 and len(tl.utterances) == 1
    assert tl.person_for_speaker("SPEAKER_00").id == "P1"
