"""Build ``tests/data/sample_timeline.jsonl``: a HAND-MADE fixture timeline for the tool tests.

This is not pipeline output. It is written from the ground truth of the bundled sample clip
(``examples/sample_conversation.truth.json``: two people, A on the left = GRID speaker s1, the
interviewee; B on the right = the interviewer; their turns with word times) plus a few
plausible, invented affect events, so that the agent tools can be tested against known
answers:

- people: ``P1`` = A (interviewee, ``SPEAKER_00``), ``P2`` = B (interviewer, ``SPEAKER_01``),
  with invented face/voice summaries (baseline AUs, emotion shares, blinks, prosody);
- utterances ``u0``-``u7`` = the truth's turns. A's word times come from the GRID alignment
  (``aligned: true``); B's turns have no word times in the truth, so their words are spread
  evenly over the turn (``aligned: false``). In this fixture the interviewer's turns are marked
  ``is_question: true`` (they play the interviewer's prompts);
- events (invented):
  ``e0`` P1 micro-expression, brief brow raise (AU1+AU2) right after the interviewer's first
  question (apex 2.16 s, reacts to ``u0``);
  ``e1`` P2 macro-expression, smile (AU6+AU12) while P1 says "place red in c four please";
  ``e2`` P1 voice pitch peak on "please" (apex 10.74 s);
  ``e3`` P1 long pause before answering the second question (13.96-15.27 s);
  ``e4`` P1 micro-expression, brow lowering (AU4+AU7) right after the second question (apex 14.22 s);
  ``e5`` P2 low-confidence (0.35) micro-expression, one-sided dimpler (AU14);
  ``e6`` P1 voice energy peak at the start of the last answer.

Run from the repository root: ``python tests/data/make_sample_timeline.py`` (deterministic; the
output is committed). A real pipeline-produced fixture will sit beside this one later.
"""

from __future__ import annotations

import json
from pathlib import Path

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

REPO = Path(__file__).resolve().parents[2]
TRUTH = REPO / "examples" / "sample_conversation.truth.json"
OUT = Path(__file__).resolve().parent / "sample_timeline.jsonl"

# As probed from examples/sample_conversation.mp4 (affectkit.media.probe), fixed here so the
# fixture does not depend on decoding.
MEDIA = MediaInfo(
    path="examples/sample_conversation.mp4",
    duration=24.064,
    fps=25.0,
    width=720,
    height=288,
    n_frames=600,
    has_video=True,
    has_audio=True,
    sample_rate=16000,
    audio_channels=1,
    video_codec="h264",
    audio_codec="aac",
    variable_frame_rate=False,
    size_bytes=1389786,
)
FPS = 25.0
PERSON_OF = {"A": "P1", "B": "P2"}
LABEL_OF = {"A": "SPEAKER_00", "B": "SPEAKER_01"}
PITCH = {"A": 121.0, "B": 208.0}  # invented median pitch per speaker, Hz
AU_NAMES = {
    "AU1": "inner brow raiser",
    "AU2": "outer brow raiser",
    "AU4": "brow lowerer",
    "AU6": "cheek raiser",
    "AU7": "lid tightener",
    "AU12": "lip corner puller",
    "AU14": "dimpler",
    "AU25": "lips part",
}


def _r(x: float) -> float:
    return round(x, 3)


def utterances(truth: dict) -> list[Utterance]:
    out: list[Utterance] = []
    prev_end = 0.0
    for i, turn in enumerate(truth["turns"]):
        spk = turn["speaker"]
        texts = turn["text"].split()
        if turn["words"]:
            spans = [(w["word"], w["start"], w["end"]) for w in turn["words"]]
            aligned = True
        else:  # B: no alignment in the truth; spread the words evenly over the turn
            step = (turn["end"] - turn["start"]) / len(texts)
            spans = [
                (w, _r(turn["start"] + k * step), _r(turn["start"] + (k + 1) * step))
                for k, w in enumerate(texts)
            ]
            aligned = False
        words = []
        for k, (w, s, e) in enumerate(spans):
            bump = 30.0 if (spk == "A" and w == "please") else 0.0  # the pitch peak of e2
            words.append(
                Word(
                    text=w,
                    start=s,
                    end=e,
                    speaker=LABEL_OF[spk],
                    score=0.93 if aligned else 0.81,
                    aligned=aligned,
                    prosody=WordProsody(
                        pitch_median=PITCH[spk] + 4.0 * ((k % 3) - 1) + bump,
                        pitch_range=18.0 + 2 * k,
                        energy_db=-21.0 - 0.5 * k,
                        pause_before=0.0 if k else _r(max(0.0, s - prev_end)),
                    ),
                )
            )
        dur = turn["end"] - turn["start"]
        out.append(
            Utterance(
                id=f"u{i}",
                speaker=LABEL_OF[spk],
                start=turn["start"],
                end=turn["end"],
                text=turn["text"],
                words=words,
                prosody=Prosody(
                    pitch_median=PITCH[spk] + (i % 3),
                    pitch_range=42.0 + i,
                    energy_db=-21.5,
                    speaking_rate=_r(len(words) / dur),
                    pause_before=_r(max(0.0, turn["start"] - prev_end)),
                ),
                is_question=(spk == "B"),
            )
        )
        prev_end = turn["end"]
    return out


def people(utts: list[Utterance]) -> list[Person]:
    def voice(label: str) -> VoiceSummary:
        mine = [u for u in utts if u.speaker == label]
        return VoiceSummary(
            speaking_time=_r(sum(u.end - u.start for u in mine)),
            turns=len(mine),
            words=sum(len(u.words) for u in mine),
            questions=sum(1 for u in mine if u.is_question),
            prosody=Prosody(
                pitch_median=PITCH["A" if label == "SPEAKER_00" else "B"],
                pitch_range=45.0,
                energy_db=-21.5,
                speaking_rate=_r(sum(len(u.words) for u in mine) / sum(u.end - u.start for u in mine)),
            ),
        )

    p1 = Person(
        id="P1",
        face_track_ids=[0],
        speaker_label="SPEAKER_00",
        role="interviewee",
        link_confidence=0.92,
        face_summary=FaceSummary(
            frames=600,
            first_seen=0.0,
            last_seen=23.96,
            coverage=1.0,
            mean_aus={"AU1": 0.08, "AU2": 0.06, "AU4": 0.11, "AU6": 0.05, "AU12": 0.09, "AU25": 0.21},
            emotion_share={"neutral": 0.86, "surprise": 0.06, "negative": 0.05, "happiness": 0.03},
            dominant_emotion="neutral",
            blinks=7,
            blink_rate_per_min=17.5,
            mean_head_pose=HeadPose(yaw=4.1, pitch=-2.3, roll=0.8),
            head_pose_std=HeadPose(yaw=2.0, pitch=1.4, roll=0.9),
        ),
        voice_summary=voice("SPEAKER_00"),
    )
    p2 = Person(
        id="P2",
        face_track_ids=[1],
        speaker_label="SPEAKER_01",
        role="interviewer",
        link_confidence=0.88,
        face_summary=FaceSummary(
            frames=600,
            first_seen=0.0,
            last_seen=23.96,
            coverage=1.0,
            mean_aus={"AU1": 0.05, "AU2": 0.04, "AU6": 0.12, "AU12": 0.18, "AU25": 0.17},
            emotion_share={"neutral": 0.78, "happiness": 0.17, "others": 0.05},
            dominant_emotion="neutral",
            blinks=9,
            blink_rate_per_min=22.4,
            mean_head_pose=HeadPose(yaw=-5.2, pitch=-1.1, roll=-0.4),
            head_pose_std=HeadPose(yaw=1.6, pitch=1.2, roll=0.7),
        ),
        voice_summary=voice("SPEAKER_01"),
    )
    return [p1, p2]


def events(tl: Timeline) -> list[AffectEvent]:
    by_id = {u.id: u for u in tl.utterances}
    person_of_label = {p.speaker_label: p.id for p in tl.people}

    def ctx(apex: float, state: str, reacts_to: str | None) -> EventContext:
        u_at = tl.utterance_at(apex)
        u = by_id.get(reacts_to) if reacts_to else None
        return EventContext(
            state=state,
            speaker_at_apex=person_of_label.get(u_at.speaker) if u_at else None,
            words=tl.words_between(apex - 1.0, apex + 1.0),
            reacts_to=reacts_to,
            reacts_to_text=u.text if u else None,
            reacts_to_speaker=person_of_label.get(u.speaker) if u else None,
        )

    def au(code: str, intensity: float, evidence: str = "flow", side: str | None = "both") -> AUActivation:
        return AUActivation(au=code, name=AU_NAMES[code], intensity=intensity, evidence=evidence, side=side)

    def evidence(track: int, s: float, a: float, e: float, rois: dict[str, float]) -> EventEvidence:
        return EventEvidence(
            track_id=track,
            onset_frame=round(s * FPS),
            apex_frame=round(a * FPS),
            offset_frame=round(e * FPS),
            rois=rois,
            detector="hand-made fixture",
        )

    specs = [
        dict(
            person="P1",
            start=2.04,
            apex=2.16,
            end=2.36,
            modality="face",
            kind="micro_expression",
            aus=[au("AU1", 0.46), au("AU2", 0.38)],
            emotion=EmotionEstimate(
                label="surprise",
                scores={"surprise": 0.58, "positive": 0.12, "negative": 0.1, "others": 0.2},
                source="fixture rules",
            ),
            caption="brief inner and outer brow raise",
            confidence=0.78,
            context=ctx(2.16, "listening", "u0"),
            evidence=evidence(0, 2.04, 2.16, 2.36, {"left_brow": 0.44, "right_brow": 0.41, "eyes": 0.15}),
        ),
        dict(
            person="P2",
            start=9.96,
            apex=10.52,
            end=11.28,
            modality="face",
            kind="macro_expression",
            aus=[au("AU12", 0.63, "blendshape"), au("AU6", 0.41, "blendshape")],
            emotion=EmotionEstimate(
                label="happiness",
                scores={"happiness": 0.71, "neutral": 0.22, "others": 0.07},
                source="fixture rules",
            ),
            caption="smile: cheeks raised, lip corners pulled up",
            confidence=0.86,
            context=ctx(10.52, "listening", "u3"),
            evidence=evidence(1, 9.96, 10.52, 11.28, {"mouth_corners": 0.62, "cheeks": 0.31}),
        ),
        dict(
            person="P1",
            start=10.55,
            apex=10.74,
            end=11.03,
            modality="voice",
            kind="pitch_peak",
            caption="pitch rise on 'please' (about +30 Hz over the turn)",
            confidence=0.69,
            context=ctx(10.74, "speaking", None),
        ),
        dict(
            person="P1",
            start=13.96,
            apex=14.6,
            end=15.27,
            modality="voice",
            kind="long_pause",
            caption="1.31 s pause before answering",
            confidence=0.9,
            context=ctx(14.6, "silent", "u4"),
        ),
        dict(
            person="P1",
            start=14.08,
            apex=14.22,
            end=14.42,
            modality="face",
            kind="micro_expression",
            aus=[au("AU4", 0.44), au("AU7", 0.3)],
            emotion=EmotionEstimate(
                label="negative",
                scores={"negative": 0.52, "others": 0.31, "surprise": 0.17},
                source="fixture rules",
            ),
            caption="brief brow lowering and lid tightening",
            confidence=0.64,
            context=ctx(14.22, "listening", "u4"),
            evidence=evidence(0, 14.08, 14.22, 14.42, {"left_brow": 0.38, "right_brow": 0.36, "eyes": 0.26}),
        ),
        dict(
            person="P2",
            start=19.02,
            apex=19.14,
            end=19.3,
            modality="face",
            kind="micro_expression",
            aus=[au("AU14", 0.3, side="right")],
            caption="one-sided dimpler",
            confidence=0.35,
            emotion=EmotionEstimate(
                label="others", scores={"others": 0.6, "negative": 0.4}, source="fixture rules"
            ),
            context=ctx(19.14, "listening", "u6"),
            evidence=evidence(1, 19.02, 19.14, 19.3, {"mouth_corners": 0.7}),
        ),
        dict(
            person="P1",
            start=21.33,
            apex=21.5,
            end=21.7,
            modality="voice",
            kind="energy_peak",
            caption="louder onset of the answer",
            confidence=0.55,
            context=ctx(21.5, "speaking", None),
        ),
    ]
    return [AffectEvent(id=f"e{i}", **s) for i, s in enumerate(specs)]


def build() -> Timeline:
    truth = json.loads(TRUTH.read_text())
    utts = utterances(truth)
    tl = Timeline(
        media=MEDIA,
        utterances=utts,
        meta={
            "affectkit_version": "0.1.0",
            "fixture": "hand-made for tool tests; see tests/data/make_sample_timeline.py",
            "warnings": [],
        },
    )
    tl.people = people(utts)
    tl.events = events(tl)
    return tl


if __name__ == "__main__":
    path = build().to_jsonl(OUT)
    print(f"wrote {path}")
