"""The spotting stage: face-store features -> intervals -> ``AffectEvent`` s.

:func:`spot_store` decodes every track of a finished face store (features come from
:class:`~affectkit.spotting.features.RoiFlowExtractor`, which runs inside the face pass);
:func:`spot_video` runs the face pass and the spotter on one video (used by the benchmark).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..face.aus import AU_INDEX
from ..face.store import FaceStore
from ..schema import AffectEvent, EventEvidence
from .decode import DecodeConfig, SpottedInterval, decode
from .describe import describe
from .masks import speaking_mask, voice_active

log = logging.getLogger(__name__)

FIELDS = ["frame", "time", "roi_flow", "flow_ref", "crop_diff", "aus", "pose"]


@dataclass
class TrackIntervals:
    """The intervals of one track, with the frame numbers of their rows."""

    track_id: int
    intervals: list[SpottedInterval]
    frames: np.ndarray
    """``(T,) int64`` decode-order frame index of each row"""
    aus: np.ndarray
    """``(T, 20) float32``"""


def spot_track(
    store: FaceStore,
    track_id: int,
    fps: float,
    *,
    speech_segments: list[tuple[float, float]] | None = None,
    config: DecodeConfig | None = None,
    spotter: object | None = None,
) -> TrackIntervals:
    """Spot the expressions of one track.

    Args:
        store: the face store (with ``roi_flow``).
        track_id: the track.
        fps: video frame rate.
        speech_segments: audio voice activity ``[(start, end)]`` (None: no audio; the face's
            own mouth activity decides when it speaks).
        config: decoder settings.
        spotter: a trained :class:`~affectkit.spotting.regressor.LearnedSpotter` (optional):
            its per-frame scores replace the classical score curve.
    """
    d = store.load(track_id, FIELDS)
    if "roi_flow" not in d:
        raise ValueError("the face store has no roi_flow: run the face stage with RoiFlowExtractor")
    vad = voice_active(d["time"], speech_segments)
    speaking = speaking_mask(d["aus"], d["time"], vad)
    blink = d["aus"][:, AU_INDEX["AU45"]]
    if spotter is not None:
        ivs = spotter.intervals(d["time"], d["roi_flow"], d["flow_ref"], fps, speaking=speaking, blink=blink,  # type: ignore[attr-defined]
                                crop_diff=d["crop_diff"])
    else:
        ivs, _ = decode(
            d["time"], d["roi_flow"], d["flow_ref"], fps,
            crop_diff=d["crop_diff"], blink=blink, speaking=speaking, pose=d["pose"], config=config,
        )
    return TrackIntervals(track_id, ivs, d["frame"], d["aus"])


def spot_store(
    store: FaceStore,
    fps: float,
    track_person: dict[int, str],
    *,
    speech_segments: list[tuple[float, float]] | None = None,
    config: DecodeConfig | None = None,
    spotter: object | None = None,
) -> list[AffectEvent]:
    """Face events (micro/macro-expressions) for every track, as ``AffectEvent`` s (ids ``e0``...).

    Args:
        track_person: ``{track_id: person id}``.
    """
    events: list[AffectEvent] = []
    for tid in store.track_ids():
        if tid not in track_person:
            continue
        res = spot_track(store, tid, fps, speech_segments=speech_segments, config=config, spotter=spotter)
        for iv in res.intervals:
            acts, emotion, caption = describe(iv, res.aus, fps)
            events.append(
                AffectEvent(
                    id="",
                    person=track_person[tid],
                    start=round(iv.onset_time, 4),
                    apex=round(iv.apex_time, 4),
                    end=round(iv.offset_time, 4),
                    modality="face",
                    kind=iv.kind,  # type: ignore[arg-type]
                    aus=acts,
                    emotion=emotion,
                    caption=caption,
                    confidence=iv.confidence,
                    evidence=EventEvidence(
                        track_id=tid,
                        onset_frame=int(res.frames[iv.onset]),
                        apex_frame=int(res.frames[iv.apex]),
                        offset_frame=int(res.frames[iv.offset]),
                        rois=iv.roi_share,
                        scores={"peak_noise_units": round(iv.score, 3)},
                        detector="learned" if spotter is not None else "prior-guided",
                    ),
                )
            )
    events.sort(key=lambda e: (e.start, e.person))
    return events


@dataclass
class VideoInterval:
    """A spotted interval in video frames (what the MEGC metrics read)."""

    onset: int
    apex: int
    offset: int
    kind: str  # "me" / "mae"
    score: float
    track_id: int


def spot_video(
    video: str | os.PathLike[str],
    *,
    max_faces: int = 1,
    config: DecodeConfig | None = None,
    spotter: object | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> list[VideoInterval]:
    """Run the face pass with ROI flow and the spotter over one video; intervals in frames.

    Args:
        video: the video.
        max_faces: faces tracked.
        config: decoder settings.
        spotter: optional learned spotter.
        workdir: keep the face store here (default: a temporary folder).
    """
    from .. import media
    from ..face.stage import run_faces
    from .features import RoiFlowExtractor

    info = media.probe(video)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(workdir) if workdir else Path(tmp)
        run_faces(video, out, max_faces=max_faces, consumers=[RoiFlowExtractor()], progress=False)
        store = FaceStore(out / "faces")
        from .masks import audio_speech_segments

        segs = audio_speech_segments(str(video))
        found: list[VideoInterval] = []
        for tid in store.track_ids():
            res = spot_track(store, tid, info.fps or 25.0, config=config, spotter=spotter, speech_segments=segs)
            for iv in res.intervals:
                found.append(VideoInterval(
                    onset=int(res.frames[iv.onset]), apex=int(res.frames[iv.apex]), offset=int(res.frames[iv.offset]),
                    kind="me" if iv.kind == "micro_expression" else "mae", score=iv.score, track_id=tid,
                ))
    return sorted(found, key=lambda v: v.onset)
