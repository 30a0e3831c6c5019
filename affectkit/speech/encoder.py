"""Speaker embeddings (d-vectors) from a small LSTM, our own implementation.

The weights are resemblyzer's ``pretrained.pt`` (a GE2E speaker encoder, Apache-2.0),
found by :func:`affectkit.models.resolve` ``("voice_encoder")``; the resemblyzer package itself
is never imported (it needs ``webrtcvad``/``pkg_resources``, which break on new setuptools).

Network: 40 mel channels (linear power, 25 ms window, 10 ms hop, 16 kHz) -> 3-layer LSTM
with 256 units -> the last layer's final hidden state -> linear 256->256 -> ReLU -> L2 norm.
It was trained on partial utterances of 160 frames (1.6 s).
"""

from __future__ import annotations

import functools
import logging
import threading

import numpy as np

from ..errors import ModelNotFoundError
from .audio import SR

log = logging.getLogger(__name__)

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
EMBED_DIM = 256
TARGET_DBFS = -30.0


# ------------------------------------------------------------------ features
def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, lin)


@functools.lru_cache(maxsize=4)
def mel_filterbank(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters, area-normalised (Slaney), ``(n_mels, n_fft // 2 + 1) float32``."""
    fft_freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


@functools.lru_cache(maxsize=2)
def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)  # periodic


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of ``(n,) float32`` audio at 16 kHz.

    Frames are centred (the signal is zero-padded by half a window on each side), so frame
    ``t`` is centred at ``t * 10 ms``.

    Returns:
        ``(1 + n // 160, 40) float32`` linear mel power.
    """
    x = np.pad(np.asarray(audio, dtype=np.float32), (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (x.size - N_FFT) // HOP
    if n_frames <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _hann(N_FFT)[None, :], axis=1)) ** 2
    return (spec.astype(np.float32) @ mel_filterbank().T).astype(np.float32)


def normalize_volume(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale ``(n,) float32`` audio to ``target_dbfs`` mean power (silence is left alone)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    if power < 1e-10:
        return audio
    gain = 10 ** ((target_dbfs - 10 * np.log10(power)) / 20)
    return (audio * gain).astype(np.float32)


# ------------------------------------------------------------------ network
def _build_network():
    import torch
    from torch import nn

    class SpeakerLSTM(nn.Module):
        """mel frames ``(B, T, 40)`` -> unit d-vectors ``(B, 256)``."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, EMBED_DIM, num_layers=3, batch_first=True)
            self.linear = nn.Linear(EMBED_DIM, EMBED_DIM)
            # scalars of the training loss; part of the checkpoint, unused at inference
            self.similarity_weight = nn.Parameter(torch.tensor([10.0]))
            self.similarity_bias = nn.Parameter(torch.tensor([-5.0]))

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-8)

    return SpeakerLSTM()


class SpeakerEncoder:
    """Embeds audio into 256-d unit vectors; one instance per weights file.

    Args:
        weights: path to the checkpoint; None: :func:`affectkit.models.resolve` ``("voice_encoder")``.
        threads: torch CPU threads to use while embedding (0: leave torch's setting).
    """

    def __init__(self, weights: str | None = None, threads: int = 0) -> None:
        import torch

        from .. import models

        path = models.resolve("voice_encoder", weights).path
        try:
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelNotFoundError(
                f"{path} is not a readable speaker-encoder checkpoint ({type(exc).__name__}: {exc}); "
                "pass resemblyzer's pretrained.pt (pip install resemblyzer carries it)"
            ) from exc
        state = ckpt.get("model_state", ckpt) if isinstance(ckpt, dict) else None
        net = _build_network()
        try:
            net.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelNotFoundError(
                f"{path} does not hold the expected 3-layer LSTM speaker encoder ({exc}); "
                "pass resemblyzer's pretrained.pt"
            ) from exc
        net.eval()
        self.path = path
        self.net = net
        self.threads = threads
        self._lock = threading.Lock()

    def embed_mels(self, mels: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """``(B, T, 40) float32`` mel windows -> ``(B, 256) float32`` unit d-vectors."""
        import torch

        if len(mels) == 0:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        out = []
        with self._lock, torch.inference_mode():
            prev = torch.get_num_threads()
            if self.threads > 0:
                torch.set_num_threads(self.threads)
            try:
                for i in range(0, len(mels), batch_size):
                    out.append(self.net(torch.from_numpy(np.ascontiguousarray(mels[i : i + batch_size]))).numpy())
            finally:
                if self.threads > 0:
                    torch.set_num_threads(prev)
        return np.concatenate(out).astype(np.float32)

    def embed_windows(self, audio: np.ndarray, starts: np.ndarray, length: float = PARTIAL_FRAMES / 100) -> np.ndarray:
        """d-vectors of fixed-length windows of ``audio``.

        Args:
            audio: ``(n,) float32`` mono at 16 kHz.
            starts: ``(B,)`` window start times in seconds.
            length: window length in seconds (1.6 s, the training length, by default).

        Returns:
            ``(B, 256) float32`` unit vectors (each window's volume is normalised first).
        """
        n = round(length * SR)
        n_frames = 1 + n // HOP
        mels = np.zeros((len(starts), n_frames, N_MELS), dtype=np.float32)
        for b, s in enumerate(starts):
            i0 = max(0, round(s * SR))
            seg = audio[i0 : i0 + n]
            if seg.size < n:
                seg = np.pad(seg, (0, n - seg.size))
            mels[b] = mel_frames(normalize_volume(seg))[:n_frames]
        return self.embed_mels(mels)

    def embed_utterance(self, audio: np.ndarray) -> np.ndarray:
        """One d-vector for a whole stretch of one speaker: the normalised mean of 1.6 s
        windows every 0.8 s (one window when shorter). ``(n,) float32`` -> ``(256,) float32``."""
        length = PARTIAL_FRAMES / 100
        dur = audio.size / SR
        starts = np.arange(0.0, max(dur - length, 0.0) + 1e-9, length / 2)
        e = self.embed_windows(audio, starts, length).mean(axis=0)
        return (e / max(float(np.linalg.norm(e)), 1e-8)).astype(np.float32)


_ENCODERS: dict[tuple[str, int], SpeakerEncoder] = {}


def get_encoder(weights: str | None = None, threads: int = 0) -> SpeakerEncoder:
    """A shared :class:`SpeakerEncoder` per (weights, threads)."""
    key = (str(weights or ""), threads)
    if key not in _ENCODERS:
        _ENCODERS[key] = SpeakerEncoder(weights, threads)
    return _ENCODERS[key]
