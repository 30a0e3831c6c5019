"""Evaluation: scores, benchmarks and baselines (imported by benchmarks and tests, never by the pipeline).

* :mod:`affectkit.evaluation.metrics`: MEGC spotting precision / recall / F1 (overall, ME,
  MaE; pooled over videos, IoU >= 0.5 on inclusive frame intervals) and STRS.
* :mod:`affectkit.evaluation.synth`: the expression-injection benchmark: real GRID
  talking faces concatenated, AU-shaped warps injected at known frames, truth in the MEGC
  CSV format; also :func:`~affectkit.evaluation.synth.inject_into_video` for any video.
* :mod:`affectkit.evaluation.mdmd`: the classical MDMD baseline spotter.
* :mod:`affectkit.evaluation.speech_metrics`: WER, word-boundary error, DER.

See ``docs/spotting-benchmark.md``. Submodules are imported on demand (no heavy imports here).
"""
