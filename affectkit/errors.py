"""One error family for everything affectkit reports to users.

Every message says what went wrong *and* what to do about it. Library code raises
these; the CLI prints them without a traceback; the agent tools turn them into
plain-text answers the model can act on.
"""

from __future__ import annotations


class AffectkitError(Exception):
    """Base class of every error affectkit raises on purpose."""


class MediaError(AffectkitError):
    """A media file is missing, empty, corrupt, unsupported or lacks a needed stream."""


class ModelNotFoundError(AffectkitError):
    """A model asset could not be resolved from any source."""


class ConfigError(AffectkitError):
    """An option or argument has an invalid value."""


class TimelineFormatError(AffectkitError):
    """A timeline file is malformed or of an unknown format version."""


class TranscriptFormatError(AffectkitError):
    """A transcript file (SRT, WebVTT, TextGrid, ...) cannot be parsed."""


class ToolArgumentError(AffectkitError):
    """An agent tool was called with arguments it cannot use."""
