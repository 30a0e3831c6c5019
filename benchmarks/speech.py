"""Speech-stage benchmark: accuracy and speed on the shared evaluation data. Prints JSON.

- WER (normalised: case, punctuation, numbers/letters spelled out) and word-boundary error
  of the whole stage (ASR -> forced alignment, no true text given) against the corpus
  alignments of ``grid_s1`` (all 40 clips);
- DER of ``diarization/sample.wav`` against ``sample.rttm`` (0.25 s collar, overlap scored),
  with the number of speakers found automatically (``der``) and given (``der_known_speakers``);
- the same WER and boundary error with grammar-constrained recognition (``grammar=``, the GRID
  sentence grammar in ``examples/grammars/grid.jsgf``, pocketsphinx) instead of whisper;
- speed in times real time: audio seconds / seconds spent, for ASR alone and for the whole
  stage (``run_speech``: ASR, alignment, diarization, prosody), over all of the above audio
  (41 files, 148 s), and split into the 30 s conversation and the 3 s GRID clips. Models are
  loaded and warmed up before timing (``load_seconds``). Timings depend on the machine's load.

Usage: ``python benchmarks/speech.py [--model tiny.en] [--beam-size 5] [--threads 0] [--clips 40]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AFFECTKIT_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from affectkit.evaluation.speech_metrics import (
    TimedWord,
    boundary_errors,
    boundary_summary,
    corpus_wer,
    der,
)
from affectkit.media import read_audio
from affectkit.speech import SpeechConfig, run_speech
from affectkit.speech.transcripts import read_rttm


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("AFFECTKIT_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--model", default=None, help="whisper model name or folder (default tiny.en)")
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--clips", type=int, default=40, help="GRID clips to use (all 40 by default)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    data = Path(args.data)
    if not (data / "grid_s1" / "words.json").is_file():
        sys.exit(f"shared data not found at {data} (pass --data or set AFFECTKIT_SHARED_DATA)")
    cfg = SpeechConfig(whisper_model=args.model, beam_size=args.beam_size, threads=args.threads)

    # load and warm every model once (not timed as processing)
    t0 = time.perf_counter()
    run_speech(read_audio(data / "speech" / "jfk.flac"), cfg, progress=False)
    load_s = time.perf_counter() - t0

    grid = json.loads((data / "grid_s1" / "words.json").read_text())
    clips = sorted(grid)[: args.clips]
    audio_s = asr_s = total_s = 0.0
    pairs, errs, matched, n_ref, unaligned, n_words = [], [], 0, 0, 0, 0
    for clip in clips:
        entry = grid[clip]
        audio = read_audio(data / "grid_s1" / entry["video"])
        t = time.perf_counter()
        res = run_speech(audio, cfg, progress=False)
        total_s += time.perf_counter() - t
        asr_s += res.timings.get("asr", 0.0)
        audio_s += audio.size / 16000
        pairs.append((entry["transcript"], res.text))
        truth = [TimedWord(w["word"], w["start"], w["end"]) for w in entry["words"] if w["word"] not in ("sil", "sp")]
        e, m, n = boundary_errors(truth, [TimedWord(w.text, w.start, w.end) for w in res.words])
        errs.extend(e.tolist())
        matched += m
        n_ref += n
        unaligned += sum(1 for w in res.words if not w.aligned)
        n_words += len(res.words)

    grid_audio_s, grid_total_s = audio_s, total_s
    sample = read_audio(data / "diarization" / "sample.wav")
    ref = read_rttm(data / "diarization" / "sample.rttm")
    t = time.perf_counter()
    res = run_speech(sample, cfg, progress=False)
    conv_s = time.perf_counter() - t
    total_s += conv_s
    asr_s += res.timings.get("asr", 0.0)
    audio_s += sample.size / 16000
    d_auto = der(ref, res.speech_segments, collar=0.25)
    res2 = run_speech(sample, cfg.model_copy(update={"num_speakers": 2}), progress=False)
    d_known = der(ref, res2.speech_segments, collar=0.25)

    w = corpus_wer(pairs)
    # grammar-constrained recognition (the GRID sentence grammar, examples/grammars/grid.jsgf)
    gcfg = cfg.model_copy(update={"grammar": str(REPO / "examples" / "grammars" / "grid.jsgf"), "diarizer": "none"})
    g_pairs, g_errs, g_audio, g_total = [], [], 0.0, 0.0
    for clip in clips:
        entry = grid[clip]
        audio = read_audio(data / "grid_s1" / entry["video"])
        t = time.perf_counter()
        gres = run_speech(audio, gcfg, progress=False)
        g_total += time.perf_counter() - t
        g_audio += audio.size / 16000
        g_pairs.append((entry["transcript"], gres.text))
        truth = [TimedWord(x["word"], x["start"], x["end"]) for x in entry["words"] if x["word"] not in ("sil", "sp")]
        g_errs.extend(boundary_errors(truth, [TimedWord(x.text, x.start, x.end) for x in gres.words])[0].tolist())
    gw = corpus_wer(g_pairs)
    gb = boundary_summary(__import__("numpy").asarray(g_errs))
    b = boundary_summary(__import__("numpy").asarray(errs))
    out = {
        "wer": round(w.wer, 4),
        "boundary_mean_ms": round(b["boundary_mean_ms"], 1),
        "boundary_median_ms": round(b["boundary_median_ms"], 1),
        "within_50ms": round(b["within_50ms"], 4),
        "der": round(d_auto.der, 4),
        "asr_realtime_factor": round(audio_s / max(asr_s, 1e-9), 2),
        "pipeline_realtime_factor": round(audio_s / max(total_s, 1e-9), 2),
        # context: speed split by input (whisper decodes 30 s windows, so 3 s clips cost nearly as much as 30 s)
        "pipeline_realtime_factor_conversation": round(sample.size / 16000 / max(conv_s, 1e-9), 2),
        "pipeline_realtime_factor_grid_clips": round(grid_audio_s / max(grid_total_s, 1e-9), 2),
        "stage_seconds_conversation": res.timings,
        "der_known_speakers": round(d_known.der, 4),
        "der_components_s": {"missed": round(d_auto.missed, 2), "false_alarm": round(d_auto.false_alarm, 2),
                             "confusion": round(d_auto.confusion, 2), "total": round(d_auto.total, 2)},
        "speakers_found": len(res.speakers),
        "wer_with_grid_grammar": round(gw.wer, 4),
        "grammar_boundary_mean_ms": round(gb["boundary_mean_ms"], 1),
        "grammar_within_50ms": round(gb["within_50ms"], 4),
        "grammar_realtime_factor": round(g_audio / max(g_total, 1e-9), 2),
        "wer_counts": {"sub": w.substitutions, "del": w.deletions, "ins": w.insertions, "ref_words": w.n_ref},
        "boundaries_scored": b["n"],
        "words_matched": f"{matched}/{n_ref}",
        "words_unaligned": f"{unaligned}/{n_words}",
        "grid_clips": len(clips),
        "audio_seconds": round(audio_s, 1),
        "load_seconds": round(load_s, 1),
        "model": args.model or "tiny.en",
        "beam_size": args.beam_size,
        "cpu_cores": os.cpu_count(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
