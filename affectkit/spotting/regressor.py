"""An optional learned spotter: a small temporal network over the same ROI features.

After BoostingVRME (a per-frame regressor on ROI optical flow: a 1-D convolution stem, a
slow and a fast temporal path, a spotting-score head and an emotion head sharing everything
else; loss 0.9 MSE + 0.1 cross-entropy) with MELDAE's boundary-aware loss, which penalises
onset and offset errors directly: two more heads predict, per frame, how likely an onset or an
offset is there, trained against Gaussian bumps at the true boundaries, and the loss adds the
distance between the predicted and true boundary positions (soft-argmax inside each true
interval's neighbourhood).

Inputs per frame (``C`` channels): the ROI flow ``(R, 2)`` divided by the track's robust noise
level, the AU-template projections in noise units, and the speaking, blink and validity masks.

``affectkit train-spotter`` trains it on CPU from videos plus a MEGC-style label CSV, with
leave-one-subject-out evaluation; ``affectkit analyze --spotter model.pt`` uses it (its score
curve replaces the classical one; decoding is the same prior-guided decoder).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AffectkitError
from .decode import DecodeConfig, cut_rows, noise_units, pattern_scores, roi_weights, valid_rows
from .rois import PATTERNS, ROIS

log = logging.getLogger(__name__)

EMOTION_CLASSES = ("negative", "positive", "surprise", "others")
"""The 3 classes of spot-then-recognise challenges plus "others"."""
_EMOTION_MAP = {
    "happiness": "positive", "positive": "positive",
    "surprise": "surprise",
    "anger": "negative", "disgust": "negative", "sadness": "negative", "fear": "negative", "contempt": "negative",
    "negative": "negative", "repression": "others", "others": "others",
}  # fmt: skip
CHECKPOINT_VERSION = 1
N_CHANNELS = len(ROIS) * 2 + len(PATTERNS) + 3


def emotion_class(label: str | None) -> int:
    """Index in :data:`EMOTION_CLASSES` of an emotion label (unknown: ``others``)."""
    return EMOTION_CLASSES.index(_EMOTION_MAP.get((label or "others").lower(), "others"))


def frame_features(
    flow: np.ndarray,
    ref: np.ndarray,
    *,
    speaking: np.ndarray | None = None,
    blink: np.ndarray | None = None,
    crop_diff: np.ndarray | None = None,
    fps: float = 25.0,
) -> np.ndarray:
    """Network input of one track.

    Args:
        flow: ``(T, R, 2)`` ROI flow (``roi_flow``).
        ref: ``(T,)`` reference rows (``flow_ref``).
        speaking, blink, crop_diff: ``(T,)`` masks/signals as in :func:`~affectkit.spotting.decode.decode`.
    Returns:
        ``(T, C) float32``.
    """
    cfg = DecodeConfig()
    n = len(flow)
    cuts = cut_rows(crop_diff, cfg, fps) if crop_diff is not None else np.zeros(0, np.int64)
    valid = valid_rows(np.asarray(ref), cuts)
    sel = valid if valid.sum() >= 10 else np.ones(n, bool)
    x = flow.reshape(n, -1)
    med = np.median(x[sel], axis=0)
    mad = np.median(np.abs(x[sel] - med), axis=0) * 1.4826
    xn = (x - med) / np.maximum(mad, 0.05)
    w = roi_weights(n, blink=blink, speaking=speaking, pose_change=None, ref=np.asarray(ref), cfg=cfg)
    zp = noise_units(pattern_scores(flow, w), valid, speaking)
    masks = np.stack([
        np.zeros(n) if speaking is None else speaking.astype(np.float32),
        np.zeros(n) if blink is None else blink.astype(np.float32),
        valid.astype(np.float32),
    ], 1)
    feats = np.concatenate([np.clip(xn, -20, 20), np.clip(zp, -20, 20), masks], 1)
    feats[~valid, : -3] = 0.0
    return feats.astype(np.float32)


class _Path(nn.Module):
    """Two residual dilated 1-D convolutions."""

    def __init__(self, ch: int, kernel: int, dilation: int) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.c1 = nn.Conv1d(ch, ch, kernel, padding=pad, dilation=dilation)
        self.c2 = nn.Conv1d(ch, ch, kernel, padding=pad, dilation=dilation)
        self.n1, self.n2 = nn.BatchNorm1d(ch), nn.BatchNorm1d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.n1(self.c1(x)))
        return torch.relu(x + self.n2(self.c2(y)))


class SpotterNet(nn.Module):
    """1-D conv stem -> slow path (wide dilations) + fast path (short kernels) -> shared -> heads.

    Input ``(B, C, T)``; output dict: ``score (B, T)`` in [0, 1], ``emotion (B, K, T)`` logits,
    ``boundary (B, 2, T)`` onset/offset logits.
    """

    def __init__(self, in_ch: int = N_CHANNELS, width: int = 48, n_classes: int = len(EMOTION_CLASSES)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(in_ch, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU())
        self.slow = nn.Sequential(_Path(width, 5, 4), _Path(width, 5, 8))
        self.fast = nn.Sequential(_Path(width, 3, 1), _Path(width, 3, 2))
        self.mix = nn.Sequential(nn.Conv1d(2 * width, width, 1), nn.ReLU(), nn.Dropout(0.1))
        self.score = nn.Conv1d(width, 1, 1)
        self.emotion = nn.Conv1d(width, n_classes, 1)
        self.boundary = nn.Conv1d(width, 2, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(x)
        h = self.mix(torch.cat([self.slow(h), self.fast(h)], 1))
        return {
            "score": torch.sigmoid(self.score(h))[:, 0],
            "emotion": self.emotion(h),
            "boundary": self.boundary(h),
        }


@dataclass
class TrainConfig:
    """Training settings."""

    epochs: int = 40
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 48
    window: int = 256
    """frames per training crop"""
    batch: int = 8
    mse_weight: float = 0.9
    ce_weight: float = 0.1
    boundary_weight: float = 0.5
    seed: int = 0


@dataclass
class Sequence:
    """One track's training sequence: features ``(T, C)``, per-frame targets, labels."""

    name: str
    subject: str
    x: np.ndarray
    score: np.ndarray
    """``(T,)`` target score 0-1"""
    emotion: np.ndarray
    """``(T,)`` class index, -1 outside expressions"""
    onsets: list[int]
    offsets: list[int]


def targets(n: int, intervals: list[tuple[int, int, str | None]], sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame spotting target (1 inside intervals, soft 3-frame edges) and emotion index (-1 outside)."""
    score = np.zeros(n, np.float32)
    emo = np.full(n, -1, np.int64)
    for on, off, label in intervals:
        on, off = max(0, on), min(n - 1, off)
        score[on : off + 1] = 1.0
        for k in range(1, 4):
            v = math.exp(-(k**2) / (2 * sigma**2))
            if on - k >= 0:
                score[on - k] = max(score[on - k], v)
            if off + k < n:
                score[off + k] = max(score[off + k], v)
        emo[on : off + 1] = emotion_class(label)
    return score, emo


def _boundary_targets(n: int, pos: list[int], sigma: float = 2.0) -> np.ndarray:
    t = np.zeros(n, np.float32)
    idx = np.arange(n)
    for p in pos:
        t = np.maximum(t, np.exp(-((idx - p) ** 2) / (2 * sigma**2)))
    return t


def boundary_loss(logits: torch.Tensor, onsets: list[list[int]], offsets: list[list[int]], radius: int = 8) -> torch.Tensor:
    """MELDAE-style boundary-aware loss: BCE against Gaussian bumps at the true boundaries plus
    the squared distance (in frames, scaled) between each true boundary and the soft-argmax of the
    predicted boundary probability within ``radius`` frames of it.

    Args:
        logits: ``(B, 2, T)`` onset/offset logits.
        onsets, offsets: per batch item, true boundary frames inside the crop.
    """
    b, _, n = logits.shape
    tgt = torch.zeros_like(logits)
    dist_terms = []
    for i in range(b):
        for ch, pos in ((0, onsets[i]), (1, offsets[i])):
            tgt[i, ch] = torch.from_numpy(_boundary_targets(n, pos))
            for p in pos:
                lo, hi = max(0, p - radius), min(n, p + radius + 1)
                w = torch.softmax(logits[i, ch, lo:hi], 0)
                expected = (w * torch.arange(lo, hi, dtype=w.dtype)).sum()
                dist_terms.append(((expected - p) / radius) ** 2)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, tgt, pos_weight=torch.tensor(8.0))
    dist = torch.stack(dist_terms).mean() if dist_terms else logits.sum() * 0.0
    return bce + dist


def train(sequences: list[Sequence], cfg: TrainConfig | None = None, *, progress: bool = False) -> SpotterNet:
    """Train a :class:`SpotterNet` on CPU (random crops of ``cfg.window`` frames)."""
    from ..progress import progress_bar

    cfg = cfg or TrainConfig()
    if not sequences:
        raise AffectkitError("no training sequences: check that the videos have faces and the labels match them")
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    net = SpotterNet(width=cfg.width)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    steps = max(1, sum(len(s.x) for s in sequences) // (cfg.window * cfg.batch) + 1)
    net.train()
    with progress_bar(total=cfg.epochs, desc="train-spotter", unit="epoch", enabled=progress) as bar:
        for _ in range(cfg.epochs):
            for _ in range(steps):
                xs, ys, es, ons, offs = [], [], [], [], []
                for _ in range(cfg.batch):
                    s = sequences[rng.integers(len(sequences))]
                    n = len(s.x)
                    w = min(cfg.window, n)
                    a = int(rng.integers(0, n - w + 1))
                    xs.append(s.x[a : a + w])
                    ys.append(s.score[a : a + w])
                    es.append(s.emotion[a : a + w])
                    ons.append([o - a for o in s.onsets if a <= o < a + w])
                    offs.append([o - a for o in s.offsets if a <= o < a + w])
                w = min(len(v) for v in xs)
                x = torch.from_numpy(np.stack([v[:w] for v in xs])).transpose(1, 2)
                y = torch.from_numpy(np.stack([v[:w] for v in ys]))
                e = torch.from_numpy(np.stack([v[:w] for v in es]))
                out = net(x)
                loss = cfg.mse_weight * nn.functional.mse_loss(out["score"], y)
                if (e >= 0).any():
                    loss = loss + cfg.ce_weight * nn.functional.cross_entropy(out["emotion"], e, ignore_index=-1)
                ons = [[p for p in o if p < w] for o in ons]
                offs = [[p for p in o if p < w] for o in offs]
                loss = loss + cfg.boundary_weight * boundary_loss(out["boundary"], ons, offs)
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
            bar.update(1)
    net.eval()
    return net


class LearnedSpotter:
    """A trained :class:`SpotterNet` with what is needed to use it (see :meth:`load`)."""

    def __init__(self, net: SpotterNet, train_config: TrainConfig | None = None, meta: dict | None = None) -> None:
        self.net = net.eval()
        self.train_config = train_config or TrainConfig()
        self.meta = meta or {}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint (a plain state dict plus JSON-able settings; loads with ``weights_only``)."""
        from ..io import temp_path_for

        p = Path(path)
        tmp = temp_path_for(p)
        torch.save({
            "version": CHECKPOINT_VERSION,
            "n_channels": N_CHANNELS,
            "train_config": asdict(self.train_config),
            "meta": self.meta,
            "state_dict": self.net.state_dict(),
        }, tmp)
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "LearnedSpotter":
        """Read a checkpoint written by :meth:`save` (clear errors for a wrong or broken file)."""
        p = Path(path)
        if not p.is_file():
            raise AffectkitError(f"{p}: no such spotter checkpoint; train one with `affectkit train-spotter`")
        try:
            ck = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means an unusable file
            raise AffectkitError(f"{p}: not a spotter checkpoint ({type(exc).__name__}: {exc})") from exc
        if not isinstance(ck, dict) or ck.get("version") != CHECKPOINT_VERSION:
            raise AffectkitError(f"{p}: not an affectkit spotter checkpoint of version {CHECKPOINT_VERSION}")
        if ck.get("n_channels") != N_CHANNELS:
            raise AffectkitError(f"{p}: trained on {ck.get('n_channels')} input channels, this affectkit uses "
                                 f"{N_CHANNELS}; retrain with `affectkit train-spotter`")
        tc = TrainConfig(**ck.get("train_config", {}))
        net = SpotterNet(width=tc.width)
        net.load_state_dict(ck["state_dict"])
        return cls(net, tc, ck.get("meta", {}))

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``x``: ``(T, C)`` -> ``score (T,)``, ``emotion (T, K)`` probabilities, ``boundary (T, 2)``."""
        out = self.net(torch.from_numpy(x.astype(np.float32)).T[None])
        return {
            "score": out["score"][0].numpy(),
            "emotion": torch.softmax(out["emotion"][0], 0).T.numpy(),
            "boundary": torch.sigmoid(out["boundary"][0]).T.numpy(),
        }

    def intervals(self, times: np.ndarray, flow: np.ndarray, ref: np.ndarray, fps: float, *, speaking=None,
                  blink=None, crop_diff=None) -> list:  # noqa: ANN001
        """Spotted intervals of one track (:func:`affectkit.spotting.decode.decode_probability`)."""
        from .decode import decode_probability

        x = frame_features(flow, ref, speaking=speaking, blink=blink, crop_diff=crop_diff, fps=fps)
        pred = self.predict(x)
        return decode_probability(times, pred["score"], flow, ref, fps, boundary=pred["boundary"], crop_diff=crop_diff)
