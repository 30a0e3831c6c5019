"""Face-stage speed: decode + landmarks + tracking + AUs + feature store, frames per second.

Runs on the GRID clips (360x288, one face) and on ``faces/WolfgangLanger_Pexels.mp4``
(640x360, one face) from ``../shared/data`` and prints JSON:
``{"fps": ..., "realtime_factor": ..., "peak_rss_mb": ..., "videos": {...}}`` where the
top-level numbers pool all videos (total frames / total seconds; video seconds / wall seconds).

    python benchmarks/faces.py [--data ../shared/data] [--grid-clips 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from affectkit import media
from affectkit.face.stage import run_faces


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(video: Path, max_faces: int) -> dict:
    info = media.probe(video)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_faces(video, tmp, max_faces=max_faces, progress=False)
        dt = time.perf_counter() - t0
    return {
        "frames": res.n_frames,
        "seconds": round(dt, 3),
        "video_seconds": round(info.duration, 3),
        "size": f"{info.width}x{info.height}",
        "persons": len(res.persons()),
        "fps": round(res.n_frames / dt, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--grid-clips", type=int, default=10)
    ap.add_argument("--max-faces", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.data.is_dir():
        sys.exit(f"no evaluation data at {args.data}")
    videos = sorted((args.data / "grid_s1" / "video").glob("*.mpg"))[: args.grid_clips]
    videos.append(args.data / "faces" / "WolfgangLanger_Pexels.mp4")
    bench(videos[0], args.max_faces)  # warm-up: imports, model load, caches
    rows = {v.name: bench(v, args.max_faces) for v in videos}
    frames = sum(r["frames"] for r in rows.values())
    secs = sum(r["seconds"] for r in rows.values())
    vsecs = sum(r["video_seconds"] for r in rows.values())
    grid = [r for k, r in rows.items() if k.endswith(".mpg")]
    out = {
        "fps": round(frames / secs, 1),
        "realtime_factor": round(vsecs / secs, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "fps_grid_360x288": round(sum(r["frames"] for r in grid) / sum(r["seconds"] for r in grid), 1),
        "fps_wolfganglanger_640x360": rows[videos[-1].name]["fps"],
        "max_faces": args.max_faces,
        "videos": rows,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
