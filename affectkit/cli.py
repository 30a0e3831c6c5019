"""The ``affectkit`` command line (also ``python -m affectkit``).

Subcommands mirror the Python API one to one: ``analyze`` is :func:`affectkit.pipeline.analyze`,
``doctor`` is :func:`affectkit.models.doctor_report`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import AffectkitError

log = logging.getLogger("affectkit.cli")


def _setup_logging(verbosity: int, quiet: bool = False) -> None:
    """Console logging on stderr. The level is set on the handler, not on the loggers, so a
    run still records its warnings (``Timeline.meta["warnings"]``) when the console is quiet."""
    level = logging.ERROR if quiet else max(logging.WARNING - 10 * verbosity, logging.DEBUG)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for h in root.handlers:
        h.setLevel(level)
    root.setLevel(min(level, logging.WARNING))
    for noisy in ("faster_whisper", "httpx", "urllib3", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .config import AnalysisConfig
    from .pipeline import TIMELINE_NAME, analyze
    from .summary import format_summary

    try:
        cfg = AnalysisConfig(
            max_faces=args.max_faces,
            speech=not args.no_speech,
            faces=not args.no_faces,
            transcript=args.transcript,
            whisper_model=args.whisper_model,
            grammar=args.grammar,
            language=args.language,
            num_speakers=args.num_speakers,
            diarizer=args.diarizer,
            beam_size=args.beam_size,
            align=not args.no_align,
            roles=args.roles,
            spotting=not args.no_spotting,
            spotter=args.spotter,
            clip_model=args.clip_model,
            progress=not args.no_progress,
        )
    except Exception as exc:  # pydantic validation
        raise AffectkitError(f"invalid option: {exc}") from exc
    tl = analyze(args.video, args.outdir, cfg)
    sys.stdout.write(format_summary(tl) + "\n")
    sys.stdout.write(f"timeline written to {Path(args.outdir) / TIMELINE_NAME}\n")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .models import doctor_report

    rep = doctor_report()
    if args.json:
        sys.stdout.write(json.dumps(rep, indent=2) + "\n")
        return 0
    out = [f"affectkit {__version__}", f"cache dir: {rep['cache_dir']}", f"offline mode: {rep['offline_mode']}", "assets:"]
    for a in rep["assets"]:  # type: ignore[union-attr]
        if a["ok"]:
            out.append(f"  [ok]      {a['asset']:<18} {a['source']:<8} {a['path']}")
        else:
            first = str(a["detail"]).splitlines()
            out.append(f"  [missing] {a['asset']:<18} " + first[0])
            out.extend("            " + ln for ln in first[1:])
    out.append("packages:")
    for k, v in rep["packages"].items():  # type: ignore[union-attr]
        out.append(f"  {k:<24} {v or 'not installed'}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .evaluation.synth import SynthConfig, make_benchmark

    cfg = replace(SynthConfig(), seed=args.seed, n_clips=args.clips, n_micro=args.micro, n_macro=args.macro,
                  amplitude=args.amplitude)
    pairs = make_benchmark(args.grid, args.out, args.videos, cfg)
    for video, table in pairs:
        sys.stdout.write(f"{video}\t{table}\n")
    sys.stdout.write(f"truth of all videos: {Path(args.out) / 'truth.csv'}\n")
    return 0


def _cmd_train_spotter(args: argparse.Namespace) -> int:
    from .spotting.regressor import TrainConfig
    from .spotting.training import train_spotter

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed)
    _, report = train_spotter(args.videos, args.labels, args.out, workdir=args.workdir, config=cfg,
                              evaluate=not args.no_eval, progress=True)
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(f"model written to {args.out}\n")
    return 0


def _cmd_mcp(args: argparse.Namespace) -> int:
    from .tools.mcp import serve

    serve(args.outdir, budget=args.budget)  # stdio: nothing else may write to stdout here
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    p = argparse.ArgumentParser(
        prog="affectkit",
        description="Timestamped affect events from conversation videos, as tools for LLM agents.",
    )
    p.add_argument("--version", action="version", version=f"affectkit {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors")
    # the same switches after the subcommand (affectkit analyze ... -q)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:  # noqa: A002
        return sub.add_parser(name, help=help, description=help, parents=[common])

    a = command("analyze", help="analyse a video and write OUTDIR/timeline.jsonl")
    a.add_argument("video", type=Path, help="the video file")
    a.add_argument("-o", "--outdir", type=Path, required=True, help="output folder")
    a.add_argument("--max-faces", type=int, default=4, help="most faces tracked at once (default 4)")
    a.add_argument("--no-faces", action="store_true", help="skip the face stage")
    a.add_argument("--no-speech", action="store_true", help="skip the speech stage")
    a.add_argument("--transcript", type=Path, help="use this transcript (whisperX JSON, SRT, VTT, TextGrid, STM)")
    a.add_argument("--whisper-model", help="faster-whisper model name or folder (default tiny.en)")
    a.add_argument("--grammar", help="JSGF grammar file: recognise speech constrained to it (pocketsphinx) instead of ASR")
    a.add_argument("--language", help="spoken language code, e.g. en")
    a.add_argument("--num-speakers", type=int, help="known number of speakers")
    a.add_argument("--diarizer", choices=["resemblyzer", "pyannote", "none"], default="resemblyzer",
                   help="who-spoke-when backend (pyannote needs a hub token; none: one speaker)")
    a.add_argument("--beam-size", type=int, default=5, help="ASR beam width (1: greedy, fastest)")
    a.add_argument("--no-align", action="store_true", help="keep ASR word times (skip forced alignment)")
    a.add_argument("--roles", help="role overrides, e.g. P1=interviewer,P2=interviewee (or SPEAKER_00=...)")
    a.add_argument("--no-spotting", action="store_true", help="skip micro/macro-expression spotting")
    a.add_argument("--spotter", type=Path, help="a trained spotter checkpoint (affectkit train-spotter)")
    a.add_argument("--clip-model", help="CLIP checkpoint folder or hub name for the AU/caption encoder")
    a.add_argument("--no-progress", action="store_true", help="no progress bars")
    a.set_defaults(func=_cmd_analyze)

    d = command("doctor", help="show where each model asset resolves from, and package versions")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=_cmd_doctor)

    s = command("synth", help="build the expression-injection benchmark (videos + MEGC truth CSV) from GRID clips")
    s.add_argument("--grid", type=Path, required=True, help="GRID speaker folder (e.g. ../shared/data/grid_s1)")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--videos", type=int, default=4, help="number of videos")
    s.add_argument("--clips", type=int, default=6, help="GRID clips (3 s each) per video")
    s.add_argument("--micro", type=int, default=2, help="micro-expressions per video")
    s.add_argument("--macro", type=int, default=2, help="macro-expressions per video")
    s.add_argument("--amplitude", type=float, default=1.0, help="difficulty: scales every expression's amplitude")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)

    t = command("train-spotter", help="train the learned spotter from videos and a MEGC-style label CSV")
    t.add_argument("videos", type=Path, help="folder of videos (matched to the CSV's video column by file name)")
    t.add_argument("labels", type=Path, help="CSV: subject,video,onset,apex,offset,type,aus,emotion (frames)")
    t.add_argument("-o", "--out", type=Path, required=True, help="model file to write (.pt)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--workdir", type=Path, help="cache of per-video face passes (default: beside the model)")
    t.add_argument("--no-eval", action="store_true", help="skip the leave-one-subject-out evaluation")
    t.set_defaults(func=_cmd_train_spotter)

    m = command("mcp", help="serve the agent tools over MCP (stdio) for an analysis output folder")
    m.add_argument("outdir", type=Path, help="output folder of `affectkit analyze` (holds timeline.jsonl), or a folder of them")
    m.add_argument("--budget", type=int, default=4000, help="size limit of each tool result, in characters")
    m.set_defaults(func=_cmd_mcp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``affectkit`` console script. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except AffectkitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
