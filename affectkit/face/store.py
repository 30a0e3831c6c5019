"""Per-track feature store: what the face stage saw, on disk, for later stages.

Layout of ``OUTDIR/faces/``:

* ``index.json``: ``{"format": 1, "fields": {name: [dtype, per-frame shape]}, "tracks": {id:
  {"parts": [file, ...], "frames": n, "first": t0, "last": t1, "person": group}}, "extra": {...}}``
* ``track_0003_part_0000.npz``: up to ``part_frames`` consecutive frames of track 3, one array
  per field, first axis = frames (``np.load`` reads them; no pickles).

Fields (``T`` = frames in the part):

| field | shape, dtype | meaning |
|---|---|---|
| ``frame`` | ``(T,) int64`` | decode-order frame index |
| ``time`` | ``(T,) float64`` | seconds |
| ``bbox`` | ``(T, 4) float32`` | x0, y0, x1, y1 pixels |
| ``confidence`` | ``(T,) float32`` | observation quality 0-1 |
| ``landmarks`` | ``(T, 478, 3) float32`` | pixels |
| ``blendshapes`` | ``(T, 52) float32`` | MediaPipe order |
| ``matrix`` | ``(T, 4, 4) float32`` | facial transformation matrix |
| ``aus`` | ``(T, 20) float32`` | :data:`affectkit.face.aus.AU_NAMES` order |
| ``pose`` | ``(T, 3) float32`` | yaw, pitch, roll degrees |
| ``emotion`` | ``(T, 8) float32`` | :data:`affectkit.face.aus.EMOTIONS` order |

Later stages may add fields (the spotting stage adds ``roi_flow``, ``(T, R, 2) float32``).
The writer keeps at most ``part_frames`` frames per track in memory, so memory stays flat in
video length.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import AffectkitError
from ..io import atomic_write_text

STORE_FORMAT = 1
INDEX_NAME = "index.json"


class FaceStoreWriter:
    """Buffers per-track rows and flushes them as ``.npz`` parts."""

    def __init__(self, folder: str | Path, part_frames: int = 256) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("track_*_part_*.npz"):
            old.unlink()
        self.part_frames = int(part_frames)
        self._buf: dict[int, dict[str, list[np.ndarray]]] = {}
        self._meta: dict[int, dict] = {}
        self._fields: dict[str, tuple[str, tuple[int, ...]]] = {}

    def add(self, track_id: int, row: dict[str, np.ndarray | float | int]) -> None:
        """Append one frame's values of ``track_id`` (same fields every time)."""
        buf = self._buf.setdefault(track_id, {})
        meta = self._meta.setdefault(track_id, {"parts": [], "frames": 0, "first": None, "last": None})
        for k, v in row.items():
            a = np.asarray(v)
            self._fields.setdefault(k, (a.dtype.str, tuple(a.shape)))
            buf.setdefault(k, []).append(a)
        t = float(row["time"])  # type: ignore[arg-type]
        meta["first"] = t if meta["first"] is None else meta["first"]
        meta["last"] = t
        meta["frames"] += 1
        if len(buf["time"]) >= self.part_frames:
            self._flush(track_id)

    def _flush(self, track_id: int) -> None:
        buf = self._buf.get(track_id)
        if not buf or not buf.get("time"):
            return
        meta = self._meta[track_id]
        name = f"track_{track_id:04d}_part_{len(meta['parts']):04d}.npz"
        np.savez(self.folder / name, **{k: np.stack(v) for k, v in buf.items()})
        meta["parts"].append(name)
        self._buf[track_id] = {}

    def close(self, persons: dict[int, int] | None = None, extra: dict | None = None) -> Path:
        """Flush everything and write ``index.json``; tracks absent from ``persons`` are removed."""
        for tid in list(self._buf):
            self._flush(tid)
        tracks = {}
        for tid, meta in sorted(self._meta.items()):
            if persons is not None and tid not in persons:
                for part in meta["parts"]:
                    (self.folder / part).unlink(missing_ok=True)
                continue
            tracks[str(tid)] = {**meta, "person": None if persons is None else persons[tid]}
        index = {
            "format": STORE_FORMAT,
            "fields": {k: [d, list(s)] for k, (d, s) in self._fields.items()},
            "tracks": tracks,
            "extra": extra or {},
        }
        return atomic_write_text(self.folder / INDEX_NAME, json.dumps(index, indent=1))


class FaceStore:
    """Reads a face store written by :class:`FaceStoreWriter`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        p = self.folder / INDEX_NAME
        if not p.is_file():
            raise AffectkitError(f"{self.folder}: no face store here (missing {INDEX_NAME}); run `affectkit analyze`")
        self.index = json.loads(p.read_text())
        if self.index.get("format") != STORE_FORMAT:
            raise AffectkitError(f"{p}: face store format {self.index.get('format')!r} is not supported")

    def track_ids(self) -> list[int]:
        """Kept track ids, ascending."""
        return sorted(int(k) for k in self.index["tracks"])

    def info(self, track_id: int) -> dict:
        """``{"parts", "frames", "first", "last", "person"}`` of a track."""
        try:
            return self.index["tracks"][str(track_id)]
        except KeyError as exc:
            raise AffectkitError(f"no face track {track_id}; tracks: {self.track_ids()}") from exc

    @property
    def extra(self) -> dict:
        return self.index.get("extra", {})

    def iter_parts(self, track_id: int, fields: list[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Yield each part of a track as ``{field: array}`` (only ``fields`` when given)."""
        for part in self.info(track_id)["parts"]:
            with np.load(self.folder / part, allow_pickle=False) as z:
                yield {k: z[k] for k in (fields or z.files) if k in z.files}

    def load(self, track_id: int, fields: list[str] | None = None) -> dict[str, np.ndarray]:
        """All frames of a track, ``{field: (T, ...) array}`` (ask only for the fields you need:
        ``landmarks`` is ~6 KB per frame)."""
        parts = list(self.iter_parts(track_id, fields))
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def add_fields(self, track_id: int, fields: dict[str, np.ndarray]) -> None:
        """Add per-frame fields to every part of a track (each ``(T, ...)`` over all its frames).

        Each part file is rewritten once (atomically), and the index is not written: call
        :meth:`save_index` after the last track.
        """
        info = self.info(track_id)
        for name, values in fields.items():
            if len(values) != info["frames"]:
                raise AffectkitError(f"field {name}: {len(values)} rows for a track of {info['frames']} frames")
        start = 0
        for part in info["parts"]:
            path = self.folder / part
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            n = len(data["time"])
            for name, values in fields.items():
                data[name] = values[start : start + n]
            start += n
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, **data)
            tmp.replace(path)
        for name, values in fields.items():
            a = np.asarray(values)
            self.index["fields"][name] = [a.dtype.str, list(a.shape[1:])]

    def save_index(self) -> None:
        """Write ``index.json`` (fields and ``extra`` changed in memory), atomically."""
        atomic_write_text(self.folder / INDEX_NAME, json.dumps(self.index, indent=1))
