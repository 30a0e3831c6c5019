"""Media decoding: probe a file, stream video frames in bounded chunks, read audio.

PyAV (which carries its own FFmpeg) does all decoding. Frames are never held for the
whole video: :func:`iter_frames` yields chunks of at most ``chunk_size`` frames, so memory
stays flat in video length. Times are seconds from the first video frame's presentation
time; variable frame rates are handled by using each frame's own timestamp.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import MediaError
from .schema import MediaInfo

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
"""Sample rate of every audio array affectkit hands between stages (Hz)."""

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
_MAX_CONSECUTIVE_ERRORS = 50


class NoAudioError(MediaError):
    """The file has no audio stream."""


class NoVideoError(MediaError):
    """The file has no video stream."""


@dataclass
class FrameChunk:
    """A bounded run of decoded frames.

    Attributes:
        images: ``(N, H, W, 3) uint8`` RGB frames.
        times: ``(N,) float64`` presentation times in seconds from the first frame.
        indices: ``(N,) int64`` decode-order frame indices from 0.
    """

    images: np.ndarray
    times: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return int(self.times.shape[0])


def _av():
    try:
        import av  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MediaError("PyAV is not installed: `pip install av`") from exc
    return av


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not a media file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: the file is empty (0 bytes); was it copied or downloaded completely?")
    return p


def _open(path: Path):
    av = _av()
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(
            f"{path}: cannot be read as audio/video ({_ffmpeg_reason(exc)}). The file is corrupt, truncated "
            "or not a media file; check that it plays, or re-encode it (ffmpeg -i in.xyz out.mp4)."
        ) from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: cannot be opened ({exc})") from exc


def _ffmpeg_reason(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return str(msg).strip() or type(exc).__name__


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Inspect a media file without decoding it all.

    Raises :class:`MediaError` for missing, empty, corrupt or unsupported files. A file
    with no audio is not an error here (``has_audio=False``); see :func:`read_audio`.
    """
    p = _check_file(path)
    with _open(p) as c:
        vstreams = list(c.streams.video)
        astreams = list(c.streams.audio)
        if not vstreams and not astreams:
            raise MediaError(f"{p}: contains neither a video nor an audio stream")
        duration = float(c.duration) / 1_000_000 if c.duration else 0.0
        fps = 0.0
        width = height = 0
        n_frames: int | None = None
        vfr = False
        vcodec = acodec = None
        if vstreams:
            v = vstreams[0]
            vcodec = v.codec_context.name
            width, height = int(v.codec_context.width or 0), int(v.codec_context.height or 0)
            rate = v.average_rate or v.guessed_rate or v.base_rate
            fps = float(rate) if rate else 0.0
            nominal = v.codec_context.framerate
            if not nominal or float(nominal) > 1000:  # some encoders store a tick rate here
                nominal = v.guessed_rate or v.base_rate
            if nominal and fps and abs(float(nominal) - fps) / fps > 0.005:
                vfr = True  # the average rate differs from the nominal one: timestamps vary
            vdur = _seconds(v.duration, v.time_base)
            if vdur:
                duration = vdur if not duration else min(max(duration, vdur), duration)
            n_frames = int(v.frames) if v.frames else (math.floor(duration * fps + 0.5) if fps and duration else None)
            if p.suffix.lower() in _IMAGE_SUFFIXES or (c.format.name or "").endswith("_pipe"):
                n_frames = 1
                fps = fps or 25.0
                duration = duration or 1.0 / fps
        sample_rate = channels = None
        if astreams:
            a = astreams[0]
            acodec = a.codec_context.name
            sample_rate = int(a.codec_context.sample_rate or a.sample_rate or 0) or None
            channels = int(getattr(a.codec_context, "channels", 0) or len(a.layout.channels) or 0) or None
        if vstreams and (width <= 0 or height <= 0):
            raise MediaError(f"{p}: the video stream has no frame size; the file is probably corrupt")
        info = MediaInfo(
            path=str(p),
            duration=max(duration, 0.0),
            fps=fps,
            width=width,
            height=height,
            n_frames=n_frames,
            has_video=bool(vstreams),
            has_audio=bool(astreams),
            sample_rate=sample_rate,
            audio_channels=channels,
            video_codec=vcodec,
            audio_codec=acodec,
            variable_frame_rate=vfr,
            size_bytes=p.stat().st_size,
        )
    if not info.has_audio:
        log.warning("%s has no audio stream: speech analysis will be skipped, faces still run", p)
    return info


def require_video(info: MediaInfo) -> None:
    """Raise :class:`NoVideoError` when the file has no video stream."""
    if not info.has_video:
        raise NoVideoError(
            f"{info.path}: has no video stream (an audio-only file?). affectkit analyses videos; "
            "pass a file with a picture track."
        )


def _resize_dims(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    # even sizes keep swscale and encoders happy
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def iter_frames(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = 32,
    max_side: int | None = None,
    start: float = 0.0,
    end: float | None = None,
    every: int = 1,
) -> Iterator[FrameChunk]:
    """Decode the video stream and yield :class:`FrameChunk` s of at most ``chunk_size`` frames.

    Args:
        path: the media file.
        chunk_size: frames per chunk (memory bound: ``chunk_size * H * W * 3`` bytes).
        max_side: downscale so the longer side is at most this (None: native size).
        start, end: only frames with ``start <= t < end`` (seconds).
        every: keep every ``every``-th decoded frame (indices still count all frames).

    Frame times come from each frame's own timestamp, so variable frame rates are exact.
    Packets that fail to decode are skipped with a warning; a file where nothing decodes,
    or where decoding keeps failing, raises :class:`MediaError`.
    """
    if chunk_size < 1 or every < 1:
        raise MediaError("chunk_size and every must be >= 1")
    p = _check_file(path)
    av = _av()
    with _open(p) as c:
        if not c.streams.video:
            raise NoVideoError(
                f"{p}: has no video stream (an audio-only file?). affectkit analyses videos; "
                "pass a file with a picture track."
            )
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        w, h = _resize_dims(stream.codec_context.width, stream.codec_context.height, max_side)
        t0: float | None = None
        last_t = -math.inf
        idx = -1
        imgs: list[np.ndarray] = []
        times: list[float] = []
        inds: list[int] = []
        errors = consecutive = 0
        decoded_any = False

        def frames() -> Iterator:
            nonlocal errors, consecutive
            for packet in c.demux(stream):
                try:
                    out = packet.decode()
                    consecutive = 0
                except av.error.FFmpegError as exc:
                    errors += 1
                    consecutive += 1
                    if errors == 1:
                        log.warning("%s: a video packet failed to decode (%s); skipping it", p, _ffmpeg_reason(exc))
                    if consecutive > _MAX_CONSECUTIVE_ERRORS:
                        raise MediaError(
                            f"{p}: video decoding keeps failing ({errors} bad packets): the file is corrupt"
                        ) from exc
                    continue
                yield from out

        try:
            for frame in frames():
                idx += 1
                decoded_any = True
                t_abs = frame.time
                if t_abs is None:
                    t_abs = (idx / float(rate)) if t0 is None else last_t + 1.0 / float(rate)
                if t0 is None:
                    t0 = t_abs
                t = t_abs - t0
                if t <= last_t:  # broken or repeated timestamps: keep time strictly increasing
                    t = last_t + 1e-6
                last_t = t
                if t < start or idx % every:
                    continue
                if end is not None and t >= end:
                    break
                if (w, h) != (frame.width, frame.height):
                    arr = frame.to_ndarray(format="rgb24", width=w, height=h)
                else:
                    arr = frame.to_ndarray(format="rgb24")
                imgs.append(arr)
                times.append(t)
                inds.append(idx)
                if len(imgs) >= chunk_size:
                    yield FrameChunk(np.stack(imgs), np.asarray(times, np.float64), np.asarray(inds, np.int64))
                    imgs, times, inds = [], [], []
        except av.error.FFmpegError as exc:
            raise MediaError(f"{p}: video decoding failed ({_ffmpeg_reason(exc)}): the file is corrupt") from exc
        if imgs:
            yield FrameChunk(np.stack(imgs), np.asarray(times, np.float64), np.asarray(inds, np.int64))
        if not decoded_any:
            raise MediaError(f"{p}: no video frame could be decoded: the file is corrupt or truncated")
        if errors:
            log.warning("%s: %d video packet(s) could not be decoded and were skipped", p, errors)


def iter_frame_list(path: str | os.PathLike[str], **kwargs) -> Iterator[tuple[int, float, np.ndarray]]:
    """Like :func:`iter_frames` but one ``(index, time, (H, W, 3) uint8 RGB image)`` at a time."""
    for chunk in iter_frames(path, **kwargs):
        for i in range(len(chunk)):
            yield int(chunk.indices[i]), float(chunk.times[i]), chunk.images[i]


def frames_at(
    path: str | os.PathLike[str], times: list[float], *, max_side: int | None = None
) -> dict[float, np.ndarray]:
    """The frame shown at each requested time (the last frame with ``t <= time``).

    Returns a dict ``time -> (H, W, 3) uint8 RGB``. Streams once through the file,
    keeping only the requested frames (few, e.g. expression apexes).
    """
    wanted = sorted(set(float(t) for t in times))
    out: dict[float, np.ndarray] = {}
    if not wanted:
        return out
    k = 0
    prev: np.ndarray | None = None
    for _, t, img in iter_frame_list(path, max_side=max_side, chunk_size=8):
        while k < len(wanted) and t > wanted[k] + 1e-9:
            if prev is not None:
                out[wanted[k]] = prev
            k += 1
        if k >= len(wanted):
            break
        prev = img.copy()
    while k < len(wanted) and prev is not None:
        out[wanted[k]] = prev
        k += 1
    return out


def _video_start(c) -> float:
    if not c.streams.video:
        return 0.0
    v = c.streams.video[0]
    s = _seconds(v.start_time, v.time_base)
    return s or 0.0


def iter_audio(
    path: str | os.PathLike[str], *, sample_rate: int = AUDIO_RATE, chunk_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Stream the first audio stream as mono float32 chunks at ``sample_rate`` Hz.

    Sample ``i`` of the concatenated stream is at ``i / sample_rate`` seconds on the media
    clock (leading silence is inserted when the audio starts after the video).
    Each chunk is ``(n,) float32`` in [-1, 1], ``n <= chunk_seconds * sample_rate``.
    """
    p = _check_file(path)
    av = _av()
    with _open(p) as c:
        if not c.streams.audio:
            raise NoAudioError(f"{p}: has no audio stream; speech analysis needs audio (use --no-speech)")
        a = c.streams.audio[0]
        # keep the channel layout while resampling, then average the channels: FFmpeg's own
        # downmix can sum channels past full scale
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        a_start = _seconds(a.start_time, a.time_base) or 0.0
        offset = a_start - _video_start(c)
        limit = max(1, int(chunk_seconds * sample_rate))
        buf: list[np.ndarray] = []
        have = 0
        if offset > 0:
            pad = np.zeros(int(round(offset * sample_rate)), np.float32)
            buf.append(pad)
            have = pad.size
        skip = int(round(-offset * sample_rate)) if offset < 0 else 0
        # decoders keep the encoder's end padding; the stream's declared duration says where to stop
        a_dur = _seconds(a.duration, a.time_base)
        total_left = int(round((a_dur + min(offset, 0.0)) * sample_rate)) if a_dur else None
        errors = 0

        def emit(force: bool) -> Iterator[np.ndarray]:
            nonlocal buf, have
            while have >= limit or (force and have):
                arr = np.concatenate(buf)
                yield arr[:limit]
                rest = arr[limit:]
                buf = [rest] if rest.size else []
                have = rest.size

        def take(frames) -> None:  # noqa: ANN001 - resampled frames: skip the lead, stop at the end
            nonlocal skip, total_left, have
            for rf in frames:
                x = _mono(rf)
                if skip:
                    cut = min(skip, x.size)
                    x, skip = x[cut:], skip - cut
                if total_left is not None:
                    x = x[: max(total_left, 0)]
                    total_left -= x.size
                if x.size:
                    buf.append(x)
                    have += x.size

        for packet in c.demux(a):
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                errors += 1
                if errors > _MAX_CONSECUTIVE_ERRORS:
                    raise MediaError(f"{p}: audio decoding keeps failing: the file is corrupt") from exc
                continue
            for frame in decoded:
                frame.pts = None  # let the resampler count samples itself
                take(resampler.resample(frame))
                yield from emit(False)
        take(resampler.resample(None))
        yield from emit(True)


def _mono(frame) -> np.ndarray:
    """``(n,) float32``: the mean over the channels of a planar audio frame."""
    arr = frame.to_ndarray()
    arr = arr.reshape(-1, frame.samples) if arr.ndim == 2 else arr.reshape(1, -1)
    return arr.mean(axis=0).astype(np.float32, copy=False)


def read_audio(path: str | os.PathLike[str], *, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """The whole first audio stream as ``(n,) float32`` mono at ``sample_rate`` Hz.

    Raises :class:`NoAudioError` when the file has no audio stream. Audio is small next to
    video (16 kHz float32 is 230 MB per hour); use :func:`iter_audio` to stream instead.
    """
    parts = list(iter_audio(path, sample_rate=sample_rate))
    if not parts:
        return np.zeros(0, np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


class VideoWriter:
    """Write RGB frames (and optionally mono audio) to an H.264/AAC MP4 through PyAV.

    With ``variable_frame_rate=True`` each frame may be given its own time. ``x264_params``
    passes libx264 options (the default turns the macroblock tree off, which makes the
    encoding reproducible to the bit).
    Writes to a temp file and renames on :meth:`close`, so a failure never leaves a
    half-written file in place of an earlier one. Use as a context manager.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float = 25.0,
        *,
        crf: int = 23,
        audio_rate: int | None = None,
        codec: str = "libx264",
        variable_frame_rate: bool = False,
        x264_params: str | None = "mbtree=0",
    ) -> None:
        from .io import temp_path_for

        av = _av()
        self.path = Path(path)
        self._tmp = temp_path_for(self.path)
        self._c = av.open(str(self._tmp), mode="w", format="mp4")
        self.fps = Fraction(fps).limit_denominator(1001)
        self._v = self._c.add_stream(codec, rate=self.fps)
        self._v.width, self._v.height = int(width), int(height)
        self._v.pix_fmt = "yuv420p"
        if codec == "libx264":
            opts = {"crf": str(crf), "preset": "medium"}
            if x264_params:
                # default mbtree=0: with the macroblock tree, the threaded lookahead now and then
                # encodes the same frames differently, and outputs must be reproducible
                opts["x264-params"] = x264_params
            self._v.options = opts
        # constant rate: one tick per frame; variable rate: 90 kHz ticks so any time can be given
        self._v.codec_context.time_base = Fraction(1, 90000) if variable_frame_rate else 1 / self.fps
        self._a = None
        if audio_rate:
            self._a = self._c.add_stream("aac", rate=int(audio_rate))
            self._a.layout = "mono"
            self._a.bit_rate = 64000
        self._n = 0
        self._ok = False

    def write(self, image: np.ndarray, t: float | None = None) -> None:
        """Add one ``(H, W, 3) uint8`` RGB frame, shown at time ``t`` (default: frame count / fps)."""
        av = _av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
        t = self._n / float(self.fps) if t is None else float(t)
        tb = self._v.codec_context.time_base
        frame.pts = int(round(t / float(tb)))
        frame.time_base = tb
        for packet in self._v.encode(frame):
            self._c.mux(packet)
        self._n += 1

    def write_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Add the whole ``(n,) float32`` mono audio track (call once)."""
        if self._a is None:
            raise MediaError("this VideoWriter was created without audio_rate")
        av = _av()
        x = np.clip(np.asarray(samples, np.float32), -1, 1)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=self._a.codec_context.sample_rate)
        step = 1024 * 16
        written = 0

        def encode(frames) -> None:  # noqa: ANN001
            nonlocal written
            for rf in frames:
                # explicit sample-count pts: the encoder then marks its priming samples and
                # the muxer writes an edit list, so decoders drop them
                rf.pts = written
                rf.time_base = Fraction(1, self._a.codec_context.sample_rate)
                written += rf.samples
                for packet in self._a.encode(rf):
                    self._c.mux(packet)

        for i in range(0, x.size, step):
            f = av.AudioFrame.from_ndarray(x[None, i : i + step], format="flt", layout="mono")
            f.sample_rate = sample_rate
            encode(resampler.resample(f))
        encode(resampler.resample(None))
        for packet in self._a.encode(None):
            self._c.mux(packet)

    def close(self) -> Path:
        """Flush, close and move the finished file into place."""
        if self._c is None:
            return self.path
        try:
            for packet in self._v.encode(None):
                self._c.mux(packet)
            self._c.close()
            self._c = None
            os.replace(self._tmp, self.path)
        finally:
            if self._c is not None:
                self._c.close()
                self._c = None
            if self._tmp.exists():
                self._tmp.unlink()
        return self.path

    def abort(self) -> None:
        """Drop the partial output; the destination is left as it was."""
        if self._c is not None:
            try:
                self._c.close()
            except Exception:  # noqa: BLE001 - best effort on an already failing path
                pass
            self._c = None
        if self._tmp.exists():
            self._tmp.unlink()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
