"""affectkit: timestamped affect events from conversation videos, as tools for LLM agents.

>>> from affectkit import analyze, Timeline
>>> tl = analyze("interview.mp4", "out/")          # doctest: +SKIP
>>> tl.events_between(10, 20)                       # doctest: +SKIP
"""

from __future__ import annotations

from .errors import AffectkitError
from .schema import AffectEvent, AUActivation, MediaInfo, Person, Timeline, Utterance, Word

__version__ = "0.1.0"

__all__ = [
    "AffectkitError",
    "AffectEvent",
    "AUActivation",
    "MediaInfo",
    "Person",
    "Timeline",
    "Utterance",
    "Word",
    "analyze",
    "__version__",
]


def analyze(video, outdir, config=None, **kwargs):  # noqa: ANN001, ANN201 - thin lazy wrapper
    """Analyse ``video`` and write ``outdir/timeline.jsonl``; see :func:`affectkit.pipeline.analyze`."""
    from .pipeline import analyze as _analyze

    return _analyze(video, outdir, config=config, **kwargs)
