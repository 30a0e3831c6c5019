"""Who spoke when: speaker embeddings + clustering (default), or pyannote (optional).

Default backend (``"resemblyzer"``: resemblyzer's weights, our own encoder, see
:mod:`.encoder`), fully offline:

1. voice activity (silero VAD) gives the speech regions;
2. d-vectors of 1.6 s windows every 0.4 s inside them (:class:`~.encoder.SpeakerEncoder`);
3. average-linkage agglomerative clustering on cosine distance, cut at a distance threshold
   (the number of speakers is found) or at ``num_speakers`` clusters (when given), then a
   few centroid re-assignment passes; clusters with too little speech are merged away;
4. a 20 ms frame grid: each speech frame takes the speaker whose centroid the windows
   covering it resemble most; short runs are smoothed away;
5. overlap (experimental, off by default: it added false alarms on the sample conversation):
   with ``overlap_margin > 0`` a frame also gets a second speaker when that speaker's
   similarity comes within the margin of the best one and is high on its own;
6. labels ``SPEAKER_00``, ``SPEAKER_01``... in order of first speech.

The pyannote backend (``"pyannote"``) runs ``pyannote/speaker-diarization-3.1`` for users with
``pyannote.audio`` installed and a Hugging Face token that has accepted its terms
(``HF_TOKEN``); it is never used unless asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, ModelNotFoundError
from ..schema import Word
from .audio import SR, check_audio, regions_from_probabilities, speech_probabilities

log = logging.getLogger(__name__)

Segment = tuple[float, float, str]
FRAME = 0.02  # seconds per frame of the label grid


@dataclass
class DiarizationConfig:
    """Knobs of the embedding + clustering diarizer (the defaults are the tested ones)."""

    window: float = 1.6  # seconds per embedding window (the encoder's training length)
    step: float = 0.4  # seconds between windows
    threshold: float = 0.30  # cosine distance at which window clusters stop merging (unknown count)
    merge_similarity: float = 0.90  # clusters whose centroids are this similar are one speaker
    min_speaker_time: float = 1.0  # clusters with less speech are merged into their nearest
    overlap_margin: float = 0.0  # > 0 (e.g. 0.03): a second speaker is kept when within this similarity of the best ...
    overlap_min_similarity: float = 0.70  # ... and at least this similar to its centroid
    min_run: float = 0.3  # shortest single-speaker run kept (seconds)
    vad_threshold: float = 0.5
    max_speakers: int = 8


@dataclass
class Diarization:
    """Result of diarization.

    Attributes:
        segments: speaker turns ``(start, end, label)``, time-ordered; turns of different
            speakers may overlap (both talking).
        labels: speaker labels in order of first speech.
        embeddings: label -> ``(256,) float32`` unit centroid (empty for pyannote).
        speech: ``(start, end)`` voice-activity regions.
    """

    segments: list[Segment]
    labels: list[str]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    speech: list[tuple[float, float]] = field(default_factory=list)

    def speakers_at(self, t0: float, t1: float) -> dict[str, float]:
        """Seconds each speaker talks within ``[t0, t1]``."""
        out: dict[str, float] = {}
        for s, e, lab in self.segments:
            ov = min(e, t1) - max(s, t0)
            if ov > 0:
                out[lab] = out.get(lab, 0.0) + ov
        return out


# ------------------------------------------------------------------ clustering
def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def cluster_embeddings(
    emb: np.ndarray, *, num_speakers: int | None, threshold: float, max_speakers: int = 8
) -> np.ndarray:
    """Cluster ``(N, D)`` unit vectors; returns ``(N,) int`` labels 0..k-1.

    Average-linkage agglomerative clustering on cosine distance, cut at ``num_speakers``
    clusters or at ``threshold``; then up to 5 passes that move each vector to its most
    similar centroid.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(emb)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    z = linkage(emb.astype(np.float64), method="average", metric="cosine")
    if num_speakers:
        lab = fcluster(z, t=min(num_speakers, n), criterion="maxclust")
    else:
        lab = fcluster(z, t=threshold, criterion="distance")
        if lab.max() > max_speakers:
            lab = fcluster(z, t=max_speakers, criterion="maxclust")
    lab = np.unique(lab, return_inverse=True)[1]
    for _ in range(5):
        k = lab.max() + 1
        cent = _normalize(np.stack([emb[lab == c].mean(0) for c in range(k)]))
        new = np.argmax(emb @ cent.T, axis=1)
        if num_speakers and len(np.unique(new)) < min(num_speakers, k):
            break  # re-assignment would lose a requested speaker
        new = np.unique(new, return_inverse=True)[1]
        if np.array_equal(new, lab):
            break
        lab = new
    return lab


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index runs where ``mask`` is True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _smooth_labels(lab: np.ndarray, speech: np.ndarray, min_len: int) -> np.ndarray:
    """Within each speech run, give single-speaker runs shorter than ``min_len`` frames the
    label of their longer neighbouring run (repeated until stable). Returns a copy."""
    lab = lab.copy()
    for s, e in _runs(speech):
        for _ in range(10):
            seg = lab[s:e]
            cuts = np.flatnonzero(np.diff(seg)) + 1
            starts = np.concatenate([[0], cuts])
            ends = np.concatenate([cuts, [len(seg)]])
            lens = ends - starts
            if len(lens) == 1 or lens.min() >= min_len:
                break
            r = int(np.argmin(lens))
            left = lens[r - 1] if r > 0 else -1
            right = lens[r + 1] if r + 1 < len(lens) else -1
            src = r - 1 if left >= right else r + 1
            seg[starts[r] : ends[r]] = seg[starts[src]]
            lab[s:e] = seg
    return lab


def _segments_from_frames(active: np.ndarray, names: list[str]) -> list[Segment]:
    """``(K, F) bool`` speaker activity on the frame grid -> time-ordered turns."""
    out: list[Segment] = []
    for k, name in enumerate(names):
        for s, e in _runs(active[k]):
            out.append((round(float(s) * FRAME, 3), round(float(e) * FRAME, 3), name))
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def diarize(
    audio: np.ndarray,
    *,
    num_speakers: int | None = None,
    speech: Sequence[tuple[float, float]] | None = None,
    config: DiarizationConfig | None = None,
    encoder_weights: str | None = None,
    threads: int = 0,
) -> Diarization:
    """Speaker turns of ``audio`` with the offline embedding + clustering diarizer.

    Args:
        audio: ``(n,) float32`` mono at 16 kHz.
        num_speakers: the known number of speakers (None: found automatically).
        speech: voice-activity regions (seconds) to use instead of running the VAD.
        config: :class:`DiarizationConfig`.
        encoder_weights: speaker-encoder checkpoint (default: resolved ``voice_encoder``).
        threads: torch CPU threads for the encoder (0: one thread).

    Returns:
        :class:`Diarization` (empty when there is no speech).
    """
    from .encoder import get_encoder

    cfg = config or DiarizationConfig()
    if num_speakers is not None and num_speakers < 1:
        raise ConfigError(f"num_speakers must be >= 1 (or None to find it), got {num_speakers}")
    audio = check_audio(audio)
    dur = audio.size / SR
    if speech is None:
        speech = regions_from_probabilities(
            speech_probabilities(audio), dur, threshold=cfg.vad_threshold, min_speech=0.2, min_silence=0.25, pad=0.05
        )
    speech = [(float(s), float(e)) for s, e in speech if e - s > 0.05]
    if not speech:
        return Diarization([], [], {}, [])

    # 1. windows inside speech regions (a region shorter than a window gets one, centred)
    starts: list[float] = []
    for s, e in speech:
        if e - s <= cfg.window:
            starts.append(min(max(0.0, (s + e) / 2 - cfg.window / 2), max(0.0, dur - cfg.window)))
        else:
            ts = np.arange(s, e - cfg.window + 1e-9, cfg.step)
            if e - cfg.window - ts[-1] > cfg.step / 2:
                ts = np.append(ts, e - cfg.window)
            starts += [float(t) for t in ts]
    st = np.asarray(starts, dtype=np.float64)
    # one thread by default: the LSTM's matrices are small, and a single thread is both as fast
    # and far steadier when the CPU is shared (e.g. with the recogniser's threads)
    enc = get_encoder(encoder_weights, threads if threads > 0 else 1)
    emb = enc.embed_windows(audio, st, cfg.window)

    # 2. clustering, then merging of clusters that are too small or too alike
    lab = cluster_embeddings(emb, num_speakers=num_speakers, threshold=cfg.threshold, max_speakers=cfg.max_speakers)
    n_f = int(np.ceil(dur / FRAME))
    is_speech = np.zeros(n_f, dtype=bool)
    for s, e in speech:
        is_speech[int(s / FRAME) : int(np.ceil(e / FRAME))] = True
    cover_idx = [(int(t / FRAME), min(n_f, int(np.ceil((t + cfg.window) / FRAME)))) for t in st]
    min_len = max(1, round(cfg.min_run / FRAME))
    while True:
        k = int(lab.max()) + 1
        cent = _normalize(np.stack([emb[lab == c].mean(0) for c in range(k)]))
        sim = _frame_similarity(emb @ cent.T, cover_idx, n_f)
        best = _smooth_labels(np.argmax(sim, axis=0), is_speech, min_len)
        if k == 1 or num_speakers == k:
            break
        time_c = np.array([np.count_nonzero(is_speech & (best == c)) * FRAME for c in range(k)])
        csim = cent @ cent.T
        np.fill_diagonal(csim, -np.inf)
        small = int(np.argmin(time_c))
        if num_speakers is None and time_c[small] < cfg.min_speaker_time:
            a, b = small, int(np.argmax(csim[small]))
        elif num_speakers is None and csim.max() >= cfg.merge_similarity or num_speakers is not None and k > num_speakers:
            a, b = np.unravel_index(int(np.argmax(csim)), csim.shape)
        else:
            break
        log.debug("diarization: merging cluster %d into %d (speech %.1f s, similarity %.2f)", a, b, time_c[a], csim[a, b])
        lab[lab == a] = b
        lab = np.unique(lab, return_inverse=True)[1]
    active = np.zeros((k, n_f), dtype=bool)
    active[best, np.arange(n_f)] = True
    active &= is_speech[None, :]

    # 4. overlap: a second speaker close to the best one and clearly present
    if k > 1 and cfg.overlap_margin > 0:
        order = np.argsort(-sim, axis=0)
        second = order[1]
        s1 = np.take_along_axis(sim, best[None, :], 0)[0]
        s2 = np.take_along_axis(sim, second[None, :], 0)[0]
        ov = is_speech & (second != best) & (s2 >= cfg.overlap_min_similarity) & (s1 - s2 <= cfg.overlap_margin)
        for s, e in _runs(ov):
            if e - s >= min_len:
                for f in range(s, e):
                    active[second[f], f] = True

    # 5. names in order of first speech; drop speakers left with no frames
    firsts = [(int(np.argmax(active[c])) if active[c].any() else n_f + c, c) for c in range(k)]
    order_c = [c for _, c in sorted(firsts) if active[c].any()]
    names = [f"SPEAKER_{i:02d}" for i in range(len(order_c))]
    segs = _segments_from_frames(active[order_c], names)
    embeddings = {names[i]: cent[c] for i, c in enumerate(order_c)}
    return Diarization(segs, names, embeddings, list(speech))


def _frame_similarity(wsim: np.ndarray, cover_idx: list[tuple[int, int]], n_f: int) -> np.ndarray:
    """``(N, k)`` window-centroid similarities -> ``(k, n_f)`` mean over the windows covering each frame."""
    k = wsim.shape[1]
    sim_sum = np.zeros((k, n_f), dtype=np.float64)
    cover = np.zeros(n_f, dtype=np.float64)
    for i, (a, b) in enumerate(cover_idx):
        sim_sum[:, a:b] += wsim[i][:, None]
        cover[a:b] += 1
    return sim_sum / np.maximum(cover, 1)


def _overlap_with(regions: Sequence[tuple[float, float]], t0: float, t1: float) -> float:
    return float(sum(max(0.0, min(e, t1) - max(s, t0)) for s, e in regions))


# ------------------------------------------------------------------ pyannote
PYANNOTE_PIPELINE = "pyannote/speaker-diarization-3.1"


def diarize_pyannote(
    audio: np.ndarray,
    *,
    num_speakers: int | None = None,
    token: str | None = None,
    pipeline: str = PYANNOTE_PIPELINE,
) -> Diarization:
    """Speaker turns from a pyannote.audio pipeline (optional backend).

    Needs ``pip install pyannote.audio`` and a Hugging Face token (``token`` or ``$HF_TOKEN``)
    whose account accepted the pipeline's terms on the hub; the first call downloads the
    models. ``pipeline`` may also be a local folder / config file of a pipeline.

    Raises:
        ModelNotFoundError: pyannote.audio is missing, or the pipeline cannot be loaded.
    """
    audio = check_audio(audio)
    try:
        import torch
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ModelNotFoundError(
            "the pyannote diarizer needs pyannote.audio: pip install pyannote.audio (and a Hugging Face token "
            "that accepted the terms of pyannote/speaker-diarization-3.1); or use diarizer='resemblyzer'"
        ) from exc
    token = token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    try:
        try:
            pipe = Pipeline.from_pretrained(pipeline, token=token)
        except TypeError:  # pyannote.audio < 4 names the argument differently
            pipe = Pipeline.from_pretrained(pipeline, use_auth_token=token)
    except Exception as exc:
        raise ModelNotFoundError(
            f"could not load the pyannote pipeline {pipeline!r} ({type(exc).__name__}: {exc}); it needs a connection, "
            "a Hugging Face token (HF_TOKEN) that accepted its terms, or a local pipeline folder"
        ) from exc
    if pipe is None:
        raise ModelNotFoundError(
            f"pyannote returned no pipeline for {pipeline!r}: accept its terms on the hub and set HF_TOKEN"
        )
    waveform = torch.from_numpy(audio[None, :].copy())
    kwargs = {"num_speakers": num_speakers} if num_speakers else {}
    result = pipe({"waveform": waveform, "sample_rate": SR}, **kwargs)
    annotation = getattr(result, "speaker_diarization", result)  # pyannote 4 wraps the Annotation
    raw: list[tuple[float, float, str]] = [
        (float(turn.start), float(turn.end), str(spk)) for turn, _, spk in annotation.itertracks(yield_label=True)
    ]
    raw.sort()
    order: list[str] = []
    for _, _, spk in raw:
        if spk not in order:
            order.append(spk)
    rename = {spk: f"SPEAKER_{i:02d}" for i, spk in enumerate(order)}
    segs = [(round(s, 3), round(e, 3), rename[spk]) for s, e, spk in raw]
    speech = _union([(s, e) for s, e, _ in segs])
    return Diarization(segs, [rename[s] for s in order], {}, speech)


def _union(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# ------------------------------------------------------------------ words
def assign_speakers(words: Sequence[Word], diar: Diarization, *, max_distance: float = 1.0) -> list[Word]:
    """Give every word a speaker: the one talking most during the word; in a gap, the
    nearest turn within ``max_distance`` seconds; else the previous word's speaker.

    Returns new :class:`Word` objects (same order).
    """
    out: list[Word] = []
    prev: str | None = None
    for w in words:
        talk = diar.speakers_at(w.start, max(w.end, w.start + 1e-3))
        if talk:
            spk = max(talk.items(), key=lambda kv: kv[1])[0]
        else:
            spk = None
            best = max_distance
            mid = (w.start + w.end) / 2
            for s, e, lab in diar.segments:
                d = s - mid if mid < s else (mid - e if mid > e else 0.0)
                if d < best:
                    best, spk = d, lab
            spk = spk or prev or (diar.labels[0] if diar.labels else None)
        out.append(w.model_copy(update={"speaker": spk}))
        prev = spk
    return out
