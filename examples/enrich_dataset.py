"""Enrich a folder of videos with affectkit timelines (dataset enrichment, resumable).

    python examples/enrich_dataset.py VIDEOS/ OUT/                 # local process pool
    python examples/enrich_dataset.py VIDEOS/ OUT/ --workers 1     # one at a time, in this process
    python examples/enrich_dataset.py VIDEOS/ OUT/ --ray           # fan out over a Ray cluster

Every video under ``VIDEOS/`` (recursively) is analysed into ``OUT/<name>/timeline.jsonl``,
where ``<name>`` is its path relative to ``VIDEOS/`` without the suffix, ``/`` written ``__``.

- **Resumable**: a video whose ``timeline.jsonl`` already exists and reads back as a valid
  timeline is skipped (``--force`` re-runs it); a broken one is analysed again.
- **Failures are recorded, not fatal**: each video's outcome (done / failed with the error,
  seconds, counts) goes to ``OUT/manifest.json``, rewritten atomically after every video, and
  the run carries on. The exit status is 1 when any video failed.
- **Progress bar** (tqdm) over the videos to analyse.
- **Ray**: ``--ray`` (``pip install 'affectkit[ray]'``) sends one task per video to a Ray
  cluster (``--ray-address``, default: start or join a local one); ``OUT/`` must then be on
  storage every node can write.

``OUT/`` can then be served to an agent: ``python -m affectkit.tools.mcp OUT/`` (the client picks
a video with ``list_timelines`` / ``load_timeline``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from affectkit.errors import AffectkitError
from affectkit.io import atomic_write_text
from affectkit.schema import Timeline

log = logging.getLogger("enrich_dataset")

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MANIFEST = "manifest.json"
TIMELINE = "timeline.jsonl"


def find_videos(root: Path) -> list[Path]:
    """Video files under ``root`` (by suffix), sorted, not following symlinked folders."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    return sorted(found)


def job_name(root: Path, video: Path) -> str:
    """The output sub-folder name of ``video``: its relative path without suffix, ``/`` -> ``__``."""
    return "__".join(video.relative_to(root).with_suffix("").parts)


def has_valid_timeline(outdir: Path) -> bool:
    """True when ``outdir/timeline.jsonl`` exists and reads back as a timeline."""
    path = outdir / TIMELINE
    if not path.is_file():
        return False
    try:
        Timeline.from_jsonl(path)
    except AffectkitError as exc:
        log.warning("%s is not a valid timeline (%s); analysing again", path, exc)
        return False
    return True


def process_one(video: str, outdir: str, config: dict[str, Any]) -> dict[str, Any]:
    """Analyse one video; never raises (runs in a worker process or a Ray task)."""
    from affectkit import analyze

    t0 = time.perf_counter()
    try:
        tl = analyze(video, outdir, config)
    except Exception as exc:  # noqa: BLE001 - recorded in the manifest; the run carries on
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "seconds": round(time.perf_counter() - t0, 2),
        }
    return {
        "status": "done",
        "seconds": round(time.perf_counter() - t0, 2),
        "people": len(tl.people),
        "utterances": len(tl.utterances),
        "events": len(tl.events),
    }


class Manifest:
    """``OUT/manifest.json``: one record per video, rewritten atomically after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.videos: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                self.videos = json.loads(path.read_text(encoding="utf-8")).get("videos", {})
            except (json.JSONDecodeError, AttributeError) as exc:
                log.warning("%s is unreadable (%s); starting a new one", path, exc)

    def record(self, name: str, **fields: Any) -> None:
        self.videos[name] = {**fields, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.save()

    def save(self) -> None:
        counts: dict[str, int] = {}
        for rec in self.videos.values():
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
        doc = {"counts": dict(sorted(counts.items())), "videos": dict(sorted(self.videos.items()))}
        atomic_write_text(self.path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


Job = tuple[str, Path, Path]  # (name, video, outdir)
OnResult = Callable[[str, dict[str, Any]], None]


def run_local(jobs: list[Job], config: dict[str, Any], workers: int, on_result: OnResult) -> None:
    """Run the jobs here (workers == 1) or in a process pool."""
    if workers <= 1:
        for name, video, out in jobs:
            on_result(name, process_one(str(video), str(out), config))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(process_one, str(video), str(out), config): name for name, video, out in jobs}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (e.g. killed for memory)
                result = {"status": "failed", "error": f"worker crashed: {type(exc).__name__}: {exc}"}
            on_result(futures[fut], result)


def import_ray() -> Any | None:
    """The ``ray`` module, or None (with a message) when it is not installed."""
    try:
        import ray
    except ImportError:
        sys.stderr.write(
            "error: --ray needs the ray package: pip install 'affectkit[ray]' (or drop --ray to use "
            "a local process pool)\n"
        )
        return None
    return ray


def run_ray(
    ray: Any, jobs: list[Job], config: dict[str, Any], address: str | None, on_result: OnResult
) -> None:
    """One Ray task per video (1 CPU each); results are recorded as they finish."""
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1)(process_one)
    pending = {task.remote(str(video), str(out), config): name for name, video, out in jobs}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            name = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - the task or its node failed
                result = {"status": "failed", "error": f"ray task failed: {type(exc).__name__}: {exc}"}
            on_result(name, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", type=Path, help="folder of videos (searched recursively)")
    parser.add_argument(
        "outdir", type=Path, help="output folder: OUT/<name>/timeline.jsonl and OUT/manifest.json"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, min(4, (os.cpu_count() or 2) // 2)),
        help="local worker processes (1: run in this process)",
    )
    parser.add_argument(
        "--ray", action="store_true", help="fan out over a Ray cluster instead of local workers"
    )
    parser.add_argument(
        "--ray-address", default=None, help="Ray cluster address (default: local / RAY_ADDRESS)"
    )
    parser.add_argument("--force", action="store_true", help="re-analyse videos that already have a timeline")
    parser.add_argument("--no-faces", action="store_true", help="skip the face stage")
    parser.add_argument("--no-speech", action="store_true", help="skip the speech stage")
    parser.add_argument("--max-faces", type=int, default=4)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if not args.videos.is_dir():
        sys.stderr.write(f"error: {args.videos} is not a folder of videos\n")
        return 2
    ray = import_ray() if args.ray else None
    if args.ray and ray is None:
        return 2
    videos = find_videos(args.videos)
    if not videos:
        sys.stderr.write(f"error: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) under {args.videos}\n")
        return 2
    args.outdir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(args.outdir / MANIFEST)
    workers = max(1, args.workers)
    config = {
        "faces": not args.no_faces,
        "speech": not args.no_speech,
        "max_faces": args.max_faces,
        "progress": False,
        "threads": max(1, (os.cpu_count() or 1) // workers),
    }

    jobs: list[Job] = []
    skipped = 0
    for video in videos:
        name = job_name(args.videos, video)
        out = args.outdir / name
        rel = video.relative_to(args.videos).as_posix()
        if not args.force and has_valid_timeline(out):
            skipped += 1
            prev = manifest.videos.get(name, {})
            if prev.get("status") != "done":
                manifest.record(name, video=rel, status="done", note="a valid timeline was already there")
            continue
        jobs.append((name, video, out))
    rel_of = {name: video.relative_to(args.videos).as_posix() for name, video, _ in jobs}

    failed = 0
    bar = tqdm(total=len(jobs), unit="video", desc="analysing", disable=not jobs)

    def on_result(name: str, result: dict[str, Any]) -> None:
        nonlocal failed
        if result["status"] == "failed":
            failed += 1
            log.warning("%s failed: %s", rel_of[name], result.get("error"))
        manifest.record(name, video=rel_of[name], **result)
        bar.update(1)
        bar.set_postfix(failed=failed)

    try:
        if ray is not None:
            run_ray(ray, jobs, config, args.ray_address, on_result)
        else:
            run_local(jobs, config, workers, on_result)
    finally:
        bar.close()
    done = len(jobs) - failed
    print(
        f"{len(videos)} videos: {done} analysed, {skipped} skipped (valid timeline already there), "
        f"{failed} failed; manifest: {manifest.path}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
