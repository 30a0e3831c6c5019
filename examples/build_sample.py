"""Build the README's sample conversation clip from GRID corpus clips.

Two people side by side take turns: on the left GRID speaker s1 (person A, who answers in
long turns), on the right a GRID speaker from ``grid_others`` (person B, who prompts in
short turns). While one speaks, the other listens: the listener is shown with frames
from the silent lead-in of one of their own clips, played forwards and backwards.

Three facial expressions are then injected with :mod:`affectkit.evaluation.synth` (smooth
AU-shaped warps, the same as the spotting benchmark's), so the demo shows events: the
interviewer raises her brows after an answer, the interviewee smiles while she speaks, and she
shows a brief frown. They are listed, with their times, in the truth file.

Writes ``examples/sample_conversation.mp4`` and ``examples/sample_conversation.truth.json``
(speaker turns; word timings where GRID has them; the injected expressions). Needs
``../shared/data``; the built clip is committed, so users never need this script.

GRID audiovisual sentence corpus (Cooke, Barker, Cunningham & Shao, 2006), CC BY 4.0.

    python examples/build_sample.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from affectkit import media

log = logging.getLogger("build_sample")

FPS = 25
CLIP_FRAMES = 75  # GRID clips: 3 s at 25 fps
AUDIO_RATE = 16_000

# (speaker, clip) in conversation order; A = GRID s1 (left), B = GRID woman brbk7n (right)
TURNS: list[tuple[str, str]] = [
    ("B", "brbk7n"),
    ("A", "bbaf2n"),
    ("A", "lgwg2n"),
    ("A", "pric4p"),
    ("B", "brbk7n"),
    ("A", "sgio8p"),
    ("A", "bwwa9s"),
    ("A", "srwi3s"),
]
LISTEN_CLIP = {"A": "lray5s", "B": "brbk7n"}  # whose silent lead-in (no blink) shows them listening
# injected expressions: (person, face index from the left, AU, onset, apex, offset, hold, amplitude)
EXPRESSIONS: list[tuple[str, int, str, float, float, float, float, float]] = [
    ("B", 1, "AU1+AU2", 5.25, 5.55, 6.15, 0.30, 0.045),  # brows up after the answer
    ("A", 0, "AU6+AU12", 13.90, 14.25, 14.85, 0.25, 0.045),  # a smile while she speaks
    ("B", 1, "AU4", 19.30, 19.44, 19.62, 0.0, 0.025),  # a brief frown (micro-expression)
]
PEOPLE = {
    "A": {"grid_speaker": "s1", "position": "left", "role": "interviewee", "description": "man, dark hair"},
    "B": {"grid_speaker": "brbk7n speaker", "position": "right", "role": "interviewer", "description": "woman, long hair"},
}


def clip_path(data: Path, clip: str) -> Path:
    p = data / "grid_s1" / "video" / f"{clip}.mpg"
    return p if p.exists() else data / "grid_others" / f"{clip}.mpg"


def read_clip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(75, 288, 360, 3) uint8`` frames and ``(48000,) float32`` 16 kHz audio of one GRID clip."""
    frames = [img.copy() for _, _, img in media.iter_frame_list(path)][:CLIP_FRAMES]
    while len(frames) < CLIP_FRAMES:
        frames.append(frames[-1])
    audio = media.read_audio(path, sample_rate=AUDIO_RATE)[: CLIP_FRAMES * AUDIO_RATE // FPS]
    audio = np.pad(audio, (0, CLIP_FRAMES * AUDIO_RATE // FPS - audio.size))
    return np.stack(frames), audio


def speech_span(audio: np.ndarray, threshold_db: float = -22.0) -> tuple[float, float]:
    """Start and end (s) of speech in a clip from its 10 ms energy (for clips without alignment)."""
    hop = AUDIO_RATE // 100
    n = audio.size // hop
    e = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(e)
    db = np.convolve(db, np.ones(5) / 5, mode="same")
    on = np.flatnonzero(db > threshold_db)
    if on.size == 0:
        return 0.0, audio.size / AUDIO_RATE
    return float(on[0] * hop / AUDIO_RATE), float((on[-1] + 1) * hop / AUDIO_RATE)


def listening_frames(frames: np.ndarray, n_silent: int, n: int) -> np.ndarray:
    """``n`` frames cycling forwards and backwards through the first ``n_silent`` frames."""
    k = max(2, n_silent)
    cycle = list(range(k)) + list(range(k - 2, 0, -1))
    idx = [cycle[i % len(cycle)] for i in range(n)]
    return frames[idx]


def build(data: Path, out_dir: Path) -> tuple[Path, Path]:
    words_json = json.loads((data / "grid_s1" / "words.json").read_text())
    others = json.loads((data / "grid_others" / "transcripts.json").read_text())
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(clip: str) -> tuple[np.ndarray, np.ndarray]:
        if clip not in cache:
            cache[clip] = read_clip(clip_path(data, clip))
        return cache[clip]

    # silent lead-in of each listener clip (stop 0.15 s before speech starts)
    silent_frames: dict[str, int] = {}
    for who, clip in LISTEN_CLIP.items():
        if clip in words_json:
            onset = next(w["start"] for w in words_json[clip]["words"] if w["word"] != "sil")
        else:
            onset = speech_span(get(clip)[1])[0]
        silent_frames[who] = int((onset - 0.15) * FPS)

    truth_turns = []
    video_path = out_dir / "sample_conversation.mp4"
    plain_path = out_dir / ".sample_conversation.plain.mp4"
    audio_track: list[np.ndarray] = []
    listen_pos = {"A": 0, "B": 0}
    with media.VideoWriter(plain_path, 2 * 360, 288, FPS, crf=20, audio_rate=AUDIO_RATE) as vw:
        for k, (who, clip) in enumerate(TURNS):
            t0 = k * CLIP_FRAMES / FPS
            frames, audio = get(clip)
            listener = "B" if who == "A" else "A"
            lframes, _ = get(LISTEN_CLIP[listener])
            lseq = listening_frames(lframes, silent_frames[listener], listen_pos[listener] + CLIP_FRAMES)
            lseq = lseq[listen_pos[listener] :]
            listen_pos[listener] += CLIP_FRAMES
            for i in range(CLIP_FRAMES):
                left, right = (frames[i], lseq[i]) if who == "A" else (lseq[i], frames[i])
                vw.write(np.concatenate([left, right], axis=1))
            audio_track.append(audio)
            if clip in words_json:
                ws = [w for w in words_json[clip]["words"] if w["word"] not in ("sil", "sp")]
                words = [{"word": w["word"], "start": round(t0 + w["start"], 4), "end": round(t0 + w["end"], 4)} for w in ws]
                start, end, text = words[0]["start"], words[-1]["end"], words_json[clip]["transcript"]
                estimated = False
            else:
                s, e = speech_span(audio)
                start, end, text, words, estimated = round(t0 + s, 2), round(t0 + e, 2), others[clip], None, True
            truth_turns.append(
                {
                    "speaker": who,
                    "clip": clip,
                    "clip_start": t0,
                    "start": start,
                    "end": end,
                    "text": text,
                    "words": words,
                    "times_estimated": estimated,
                }
            )
        vw.write_audio(np.concatenate(audio_track), AUDIO_RATE)
    from affectkit.evaluation.synth import ExpressionSpec, inject_into_video

    specs = [ExpressionSpec(face, on, ap, off, au, amp, hold) for _, face, au, on, ap, off, hold, amp in EXPRESSIONS]
    injected = inject_into_video(plain_path, video_path, specs, crf=20)
    plain_path.unlink()
    expressions = [
        {
            "person": who,
            "position": PEOPLE[who]["position"],
            "aus": au,
            "onset": round(ev.onset / FPS, 3),
            "apex": round(ev.apex_start / FPS, 3),
            "offset": round(ev.offset / FPS, 3),
            "onset_frame": ev.onset,
            "apex_frame": ev.apex_start,
            "offset_frame": ev.offset,
            "type": "micro" if ev.kind == "me" else "macro",
            "amplitude_face_width": amp,
            "injected": True,
        }
        for (who, _, au, _, _, _, _, amp), ev in zip(EXPRESSIONS, injected)
    ]
    truth = {
        "video": video_path.name,
        "duration": len(TURNS) * CLIP_FRAMES / FPS,
        "fps": FPS,
        "source": "GRID audiovisual sentence corpus (Cooke, Barker, Cunningham & Shao, 2006), CC BY 4.0",
        "people": PEOPLE,
        "turns": truth_turns,
        "expressions": expressions,
        "notes": "Word times of A come from the GRID alignment; B's turn times are estimated from audio energy "
        "(GRID ships no alignment for that speaker). The listener is shown with frames of the silent lead-in "
        "of one of their own clips played forwards and backwards. The expressions are injected (synthetic "
        "AU-shaped warps), not acted.",
    }
    truth_path = out_dir / "sample_conversation.truth.json"
    truth_path.write_text(json.dumps(truth, indent=1) + "\n")
    return video_path, truth_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    v, t = build(args.data.resolve(), args.out)
    log.info("wrote %s (%.1f MB) and %s", v, v.stat().st_size / 1e6, t)


if __name__ == "__main__":
    main()
