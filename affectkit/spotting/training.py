"""Training and leave-one-subject-out evaluation of the learned spotter (``affectkit train-spotter``).

Labels are a MEGC-style CSV (``subject, video, onset, apex, offset, type, aus, emotion``; frames
inclusive), videos are matched to rows by file stem. Each video's face pass (with ROI flow) is
cached in a work folder, so re-training is fast.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import media
from ..errors import AffectkitError
from ..evaluation.metrics import Interval, spotting_scores
from ..evaluation.synth import read_truth_csv
from ..face.aus import AU_INDEX
from ..face.store import FaceStore
from .masks import audio_speech_segments, speaking_mask, voice_active
from .regressor import LearnedSpotter, Sequence, TrainConfig, frame_features, targets, train

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def read_subjects(labels: str | os.PathLike[str]) -> dict[str, str]:
    """``{video: subject}`` from the label CSV (subject defaults to the video name)."""
    out: dict[str, str] = {}
    with open(labels, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if row.get("video"):
                out.setdefault(row["video"], row.get("subject") or row["video"])
    return out


def find_videos(videos: str | os.PathLike[str] | list, names: list[str]) -> dict[str, Path]:
    """Map label video names to files: a folder (searched by stem) or a list of paths."""
    if isinstance(videos, (list, tuple)):
        files = [Path(v) for v in videos]
    else:
        root = Path(videos)
        if not root.is_dir():
            raise AffectkitError(f"{root}: not a folder of videos")
        files = [p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES]
    by_stem = {p.stem: p for p in files}
    found = {n: by_stem[Path(n).stem] for n in names if Path(n).stem in by_stem}
    missing = [n for n in names if n not in found]
    if missing:
        log.warning("no video file for %d labelled video(s): %s", len(missing), ", ".join(missing[:5]))
    if not found:
        raise AffectkitError("none of the labelled videos was found; the CSV's `video` column must match file names")
    return found


def _main_track(store: FaceStore) -> int:
    ids = store.track_ids()
    if not ids:
        raise AffectkitError(f"{store.folder}: no face found")
    return max(ids, key=lambda t: store.info(t)["frames"])


def face_store_for(video: Path, workdir: Path) -> FaceStore:
    """The cached face store (with ROI flow) of a video, computing it when missing or stale."""
    from ..face.stage import run_faces
    from .features import RoiFlowExtractor

    out = workdir / video.stem
    stamp = out / "source.txt"
    key = f"{video.resolve()}|{video.stat().st_size}|{video.stat().st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == key and (out / "faces" / "index.json").is_file():
        return FaceStore(out / "faces")
    run_faces(video, out, max_faces=1, consumers=[RoiFlowExtractor()], progress=False)
    stamp.write_text(key)
    return FaceStore(out / "faces")


@dataclass
class TrackData:
    """What training and evaluation need from one video."""

    name: str
    subject: str
    fps: float
    frames: np.ndarray
    times: np.ndarray
    flow: np.ndarray
    ref: np.ndarray
    crop_diff: np.ndarray
    speaking: np.ndarray
    blink: np.ndarray
    pose: np.ndarray
    truth: list[Interval]

    def features(self) -> np.ndarray:
        return frame_features(self.flow, self.ref, speaking=self.speaking, blink=self.blink,
                              crop_diff=self.crop_diff, fps=self.fps)

    def rows(self, frame: int) -> int:
        """Row of the track nearest to a video frame number."""
        return int(np.clip(np.searchsorted(self.frames, frame), 0, len(self.frames) - 1))

    def sequence(self) -> Sequence:
        ivs = [(self.rows(t.onset), self.rows(t.offset), t.emotion) for t in self.truth]
        score, emo = targets(len(self.frames), ivs)
        return Sequence(self.name, self.subject, self.features(), score, emo,
                        [a for a, _, _ in ivs], [b for _, b, _ in ivs])


def load_tracks(videos, labels: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> list[TrackData]:  # noqa: ANN001
    """Face pass (cached) and truth for every labelled video."""
    truth = read_truth_csv(labels)
    subjects = read_subjects(labels)
    files = find_videos(videos, sorted(truth))
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    out = []
    for name, path in sorted(files.items()):
        store = face_store_for(path, work)
        tid = _main_track(store)
        d = store.load(tid, ["frame", "time", "roi_flow", "flow_ref", "crop_diff", "aus", "pose"])
        vad = voice_active(d["time"], audio_speech_segments(str(path)))
        out.append(TrackData(
            name=name, subject=subjects.get(name, name), fps=media.probe(path).fps or 25.0,
            frames=d["frame"], times=d["time"], flow=d["roi_flow"], ref=d["flow_ref"], crop_diff=d["crop_diff"],
            speaking=speaking_mask(d["aus"], d["time"], vad), blink=d["aus"][:, AU_INDEX["AU45"]], pose=d["pose"],
            truth=truth[name],
        ))
    return out


def predict_intervals(spotter: LearnedSpotter, td: TrackData) -> list[Interval]:
    """Decode a track with the learned score; intervals in video frames."""
    ivs = spotter.intervals(td.times, td.flow, td.ref, td.fps, speaking=td.speaking, blink=td.blink,
                            crop_diff=td.crop_diff)
    return [Interval(int(td.frames[i.onset]), int(td.frames[i.offset]), int(td.frames[i.apex]),
                     "me" if i.kind == "micro_expression" else "mae") for i in ivs]


def loso(tracks: list[TrackData], cfg: TrainConfig, *, progress: bool = False) -> dict:
    """Leave-one-subject-out (leave-one-video-out with a single subject): pooled MEGC scores."""
    subjects = sorted({t.subject for t in tracks})
    key = (lambda t: t.subject) if len(subjects) > 1 else (lambda t: t.name)
    folds = sorted({key(t) for t in tracks})
    per_video: dict[str, tuple[list[Interval], list[Interval]]] = {}
    for f in folds:
        train_set = [t.sequence() for t in tracks if key(t) != f]
        test_set = [t for t in tracks if key(t) == f]
        if not train_set:
            continue
        model = LearnedSpotter(train(train_set, cfg, progress=False), cfg)
        for t in test_set:
            per_video[t.name] = (predict_intervals(model, t), t.truth)
    scores = spotting_scores(per_video, fps=tracks[0].fps) if per_video else {}
    return {"protocol": "leave-one-subject-out" if len(subjects) > 1 else "leave-one-video-out",
            "folds": len(folds), "scores": scores}


def train_spotter(
    videos, labels: str | os.PathLike[str], out_model: str | os.PathLike[str], *,  # noqa: ANN001
    workdir: str | os.PathLike[str] | None = None, config: TrainConfig | None = None,
    evaluate: bool = True, progress: bool = True,
) -> tuple[LearnedSpotter, dict]:
    """Train on every labelled video (after a LOSO evaluation) and save the model.

    Returns:
        The spotter and a report ``{"videos", "subjects", "loso": {...}, "seconds"}``.
    """
    t0 = time.perf_counter()
    cfg = config or TrainConfig()
    work = Path(workdir) if workdir else Path(out_model).with_suffix("").with_name(Path(out_model).stem + "_work")
    tracks = load_tracks(videos, labels, work)
    report: dict = {"videos": len(tracks), "subjects": len({t.subject for t in tracks})}
    if evaluate and len(tracks) > 1:
        report["loso"] = loso(tracks, cfg, progress=progress)
    model = LearnedSpotter(train([t.sequence() for t in tracks], cfg, progress=progress), cfg,
                           meta={"trained_on": report["videos"], "subjects": report["subjects"],
                                 "loso": report.get("loso")})
    model.save(out_model)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return model, report
