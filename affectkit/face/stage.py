"""The face stage: one streaming pass over the video.

Decode -> landmarks (:mod:`.landmarks`) -> track ids (:mod:`.tracking`) -> AUs, pose, emotion
(:mod:`.aus`) -> per-track feature store (:mod:`.store`). Later stages that need pixels (the
spotting stage's optical flow) plug in as :class:`FrameConsumer` s, so the video is decoded
once. Memory stays flat in video length.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .. import media
from ..progress import progress_bar
from ..schema import FaceSummary, HeadPose
from . import aus as aumod
from .landmarks import FaceLandmarker, FaceObservation
from .store import FaceStore, FaceStoreWriter
from .tracking import FaceTracker, TrackerConfig

log = logging.getLogger(__name__)


class FrameConsumer(Protocol):
    """Receives every decoded frame with its tracked faces (for stages needing pixels)."""

    def on_frame(self, index: int, t: float, image: np.ndarray, faces: list[tuple[int, FaceObservation]]) -> None:
        """``image``: ``(H, W, 3) uint8`` RGB; ``faces``: ``(track_id, observation)`` pairs."""

    def close(self, store: FaceStore, groups: dict[int, int]) -> None:
        """Called once after the pass, with the finished store and ``{track: person group}``."""


@dataclass
class FaceStageResult:
    """What the face stage found."""

    store_dir: Path
    groups: dict[int, int]
    """``{track_id: group}``: tracks with the same group are one person"""
    summaries: dict[int, FaceSummary]
    """per group"""
    n_frames: int
    frames_with_faces: int
    warnings: list[str] = field(default_factory=list)
    first_x: dict[int, float] = field(default_factory=dict)
    """per group: the face's horizontal centre when first seen (orders people seen together left to right)"""

    def persons(self) -> list[list[int]]:
        """Track-id lists, one per person, ordered by first appearance."""
        by_group: dict[int, list[int]] = {}
        for tid, g in sorted(self.groups.items()):
            by_group.setdefault(g, []).append(tid)
        return [by_group[g] for g in sorted(by_group, key=lambda g: (self.summaries[g].first_seen,
                                                                      self.first_x.get(g, 0.0)))]


def run_faces(
    video: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    max_faces: int = 4,
    model_path: str | None = None,
    chunk_size: int = 32,
    max_side: int | None = 1280,
    consumers: list[FrameConsumer] | None = None,
    tracker_config: TrackerConfig | None = None,
    progress: bool = True,
) -> FaceStageResult:
    """Run the face stage over ``video`` and write ``outdir/faces/``.

    Args:
        video: the video file.
        outdir: analysis output folder (``faces/`` is created inside).
        max_faces: most faces per frame.
        model_path: ``face_landmarker.task`` (default: resolved).
        chunk_size: frames decoded at once.
        max_side: downscale frames whose longer side exceeds this (speed); None keeps native size.
        consumers: extra per-frame consumers (see :class:`FrameConsumer`).
        tracker_config: tracking thresholds.
        progress: show a progress bar.
    """
    info = media.probe(video)
    media.require_video(info)
    store_dir = Path(outdir) / "faces"
    writer = FaceStoreWriter(store_dir)
    tracker = FaceTracker(tracker_config)
    consumers = list(consumers or [])
    n_frames = with_faces = 0
    times: list[float] = []
    counts: list[int] = []
    cut_scores: list[float] = []
    prev_small: np.ndarray | None = None
    with FaceLandmarker(model_path, max_faces=max_faces) as lm, progress_bar(
        total=info.n_frames, desc="faces", unit="frame", enabled=progress
    ) as bar:
        for chunk in media.iter_frames(video, chunk_size=chunk_size, max_side=max_side):
            for k in range(len(chunk)):
                img, t, idx = chunk.images[k], float(chunk.times[k]), int(chunk.indices[k])
                small = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (32, 24), interpolation=cv2.INTER_AREA)
                cut_scores.append(0.0 if prev_small is None else float(np.abs(small.astype(np.int16) - prev_small).mean()))
                prev_small = small.astype(np.int16)
                obs = lm.detect(img, t)
                ids = tracker.update(obs, t, img)
                n_frames += 1
                with_faces += bool(obs)
                times.append(t)
                counts.append(len(obs))
                for tid, o in zip(ids, obs):
                    a = aumod.blendshapes_to_aus(o.blendshapes, o.landmarks)
                    p = aumod.head_pose(o.matrix)
                    writer.add(
                        tid,
                        {
                            "frame": np.int64(idx),
                            "time": np.float64(t),
                            "bbox": o.bbox,
                            "confidence": np.float32(o.confidence),
                            "landmarks": o.landmarks,
                            "blendshapes": o.blendshapes,
                            "matrix": o.matrix,
                            "aus": a,
                            "pose": np.array([p.yaw, p.pitch, p.roll], np.float32),
                            "emotion": aumod.emotion_scores(a, o.blendshapes),
                        },
                    )
                faces = list(zip(ids, obs))
                for c in consumers:
                    c.on_frame(idx, t, img, faces)
            bar.update(len(chunk))
    groups = tracker.finalize()
    np.savez(
        store_dir / "frames.npz",
        time=np.asarray(times, np.float64),
        faces=np.asarray(counts, np.int16),
        cut_score=np.asarray(cut_scores, np.float32),
    )
    writer.close(groups, extra={"video": str(info.path), "n_frames": n_frames, "fps": info.fps})
    store = FaceStore(store_dir)
    for c in consumers:
        c.close(store, groups)
    warnings: list[str] = []
    if not groups:
        msg = f"no face found in {info.path}: face analysis skipped (speech still runs)"
        log.warning(msg)
        warnings.append(msg)
    summaries = {g: summarize_person(store, [t for t, gg in groups.items() if gg == g], n_frames)
                 for g in sorted(set(groups.values()))}
    first_x = {}
    for g in set(groups.values()):
        first = min((t for t, gg in groups.items() if gg == g), key=lambda t: store.info(t)["first"])
        bbox = next(store.iter_parts(first, ["bbox"]))["bbox"][0]
        first_x[g] = float((bbox[0] + bbox[2]) / 2)
    return FaceStageResult(store_dir, groups, summaries, n_frames, with_faces, warnings, first_x)


def summarize_person(store: FaceStore, track_ids: list[int], video_frames: int) -> FaceSummary:
    """A :class:`FaceSummary` over the given tracks of one person."""
    cols = ["time", "aus", "pose", "emotion"]
    parts = [store.load(t, cols) for t in track_ids]
    parts = [p for p in parts if p]
    time = np.concatenate([p["time"] for p in parts])
    order = np.argsort(time)
    time = time[order]
    au = np.concatenate([p["aus"] for p in parts])[order]
    pose = np.concatenate([p["pose"] for p in parts])[order]
    emo = np.concatenate([p["emotion"] for p in parts])[order]
    labels = emo.argmax(1)
    share = {e: float(np.mean(labels == i)) for i, e in enumerate(aumod.EMOTIONS) if np.any(labels == i)}
    blinks = aumod.blink_intervals(au[:, aumod.AU_INDEX["AU45"]], time)
    seen = float(time[-1] - time[0]) if len(time) > 1 else 0.0
    mean_pose, std_pose = pose.mean(0), pose.std(0)
    return FaceSummary(
        frames=int(len(time)),
        first_seen=float(time[0]),
        last_seen=float(time[-1]),
        coverage=float(min(1.0, len(time) / max(video_frames, 1))),
        mean_aus={a: round(float(v), 4) for a, v in zip(aumod.AU_NAMES, au.mean(0))},
        emotion_share={k: round(v, 4) for k, v in share.items()},
        dominant_emotion=max(share, key=share.get) if share else None,
        blinks=len(blinks),
        blink_rate_per_min=round(len(blinks) / seen * 60.0, 2) if seen >= 5.0 else None,
        mean_head_pose=HeadPose(yaw=float(mean_pose[0]), pitch=float(mean_pose[1]), roll=float(mean_pose[2])),
        head_pose_std=HeadPose(yaw=float(std_pose[0]), pitch=float(std_pose[1]), roll=float(std_pose[2])),
    )
