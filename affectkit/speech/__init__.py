"""affectkit.speech: who said what, when, and how.

Audio (``(n,) float32`` mono at 16 kHz) -> timed, speaker-labelled words grouped into
utterances, with conversation roles, prosody and per-speaker summaries.

One module per step (see ``docs/speech.md``):

- :mod:`.asr`: faster-whisper transcription with word timestamps and voice-activity filtering;
- :mod:`.align`: pocketsphinx forced alignment (refines ASR word times; aligns a given transcript);
- :mod:`.diarize`: who spoke when (speaker embeddings + clustering; optional pyannote);
- :mod:`.roles`: interviewer / interviewee from turn-taking cues;
- :mod:`.prosody`: pitch, energy, speaking rate, pauses;
- :mod:`.transcripts`: whisperX JSON, SRT, WebVTT, TextGrid, STM, RTTM;
- :mod:`.stage`: :func:`run_speech`, the whole stage.

Heavy dependencies (faster-whisper, pocketsphinx, torch) load only when a step needs them.
"""

from .stage import SpeechConfig, SpeechResult, group_utterances, run_speech

__all__ = ["SpeechConfig", "SpeechResult", "group_utterances", "run_speech"]
