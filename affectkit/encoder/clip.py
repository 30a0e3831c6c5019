"""CLIP-based AU and caption encoder, applied to expression apexes only (opt-in).

In the spirit of Micro-AU CLIP and EmoCapCLIP: the aligned face at an event's onset and apex
is cut into regions (upper face: brows and eyes; lower face: nose, mouth and chin; the whole
face), each region is embedded by CLIP's image tower and scored against text prompts for the
AUs of that region ("a close-up photo of a face with raised eyebrows") and against a neutral
prompt for the same region. An AU's CLIP evidence is how much its prompt's probability rises
from onset to apex. The whole face is also scored against emotion prompts, and the caption
candidates built from the event's AUs are ranked by similarity (caption retrieval).

No PyPI package carries CLIP weights, so this is opt-in: pass a local checkpoint folder
(``CLIPModel.save_pretrained`` layout with a tokenizer) or a hub name
(``openai/clip-vit-base-patch32``), resolved by :mod:`affectkit.models`. The tests run it on
a tiny randomly initialised config.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import AffectkitError, ModelNotFoundError
from ..models import resolve
from ..schema import AUActivation, EmotionEstimate, Timeline

log = logging.getLogger(__name__)

_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)

REGIONS: dict[str, tuple[float, float, float, float]] = {
    "upper": (0.05, 0.0, 0.95, 0.52),  # x0, y0, x1, y1 as fractions of the aligned crop
    "lower": (0.15, 0.45, 0.85, 1.0),
    "face": (0.0, 0.0, 1.0, 1.0),
}
AU_PROMPTS: dict[str, tuple[str, str]] = {  # AU -> (region, phrase)
    "AU1": ("upper", "raised inner eyebrows"),
    "AU2": ("upper", "raised outer eyebrows"),
    "AU4": ("upper", "lowered eyebrows drawn together in a frown"),
    "AU5": ("upper", "wide open eyes"),
    "AU6": ("upper", "raised cheeks and narrowed eyes"),
    "AU7": ("upper", "tightened eyelids"),
    "AU9": ("lower", "a wrinkled nose"),
    "AU10": ("lower", "a raised upper lip"),
    "AU12": ("lower", "lip corners pulled up in a smile"),
    "AU14": ("lower", "dimpled lip corners"),
    "AU15": ("lower", "lip corners pulled down"),
    "AU17": ("lower", "a raised chin"),
    "AU20": ("lower", "lips stretched sideways"),
    "AU23": ("lower", "tightened lips"),
    "AU24": ("lower", "lips pressed together"),
    "AU25": ("lower", "parted lips"),
    "AU26": ("lower", "a dropped jaw"),
}
NEUTRAL_PHRASE = {"upper": "relaxed eyebrows and eyes", "lower": "a relaxed closed mouth"}
EMOTIONS = ("neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt")
PROMPT = "a close-up photo of a face with {}"
EMOTION_PROMPT = "a close-up photo of a face showing {}"
CLIP_MIN_RISE = 0.05


@dataclass
class ClipScores:
    """CLIP's view of one event: AU probability rise onset->apex, emotion probabilities, best caption."""

    au_rise: dict[str, float]
    emotions: dict[str, float]
    caption: str | None


class ClipAUEncoder:
    """CLIP image/text towers with AU, emotion and caption prompts (see module doc).

    Args:
        model: a local checkpoint folder or a hub name (see :func:`affectkit.models.resolve`).
        device: torch device (default CPU).
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, device: str = "cpu") -> None:
        import torch
        from transformers import AutoTokenizer, CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        from ..models import offline_mode

        asset = resolve("clip", model)
        src = str(asset.path)
        local = offline_mode() or asset.source != "hub-name"  # a hub name may still be in the HF cache
        try:
            self.model = CLIPModel.from_pretrained(src, local_files_only=local).to(device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=local)
        except OSError as exc:
            raise ModelNotFoundError(
                f"CLIP model {src!r} could not be loaded ({exc}). Pass a local folder saved with "
                "CLIPModel.save_pretrained (with its tokenizer), or a hub name while online."
            ) from exc
        self.device = device
        self.size = int(self.model.config.vision_config.image_size)
        self._torch = torch
        self._text_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ embeddings
    def _features(self, out) -> "np.ndarray":  # noqa: ANN001 - tensor or ModelOutput across transformers versions
        t = out if hasattr(out, "shape") else out.pooler_output
        t = t / t.norm(dim=-1, keepdim=True)
        return t.detach().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """``(N, D)`` unit text embeddings (cached per text)."""
        todo = [t for t in texts if t not in self._text_cache]
        if todo:
            enc = self.tokenizer(todo, padding=True, truncation=True, return_tensors="pt")
            with self._torch.no_grad():
                out = self.model.get_text_features(input_ids=enc["input_ids"].to(self.device),
                                                   attention_mask=enc["attention_mask"].to(self.device))
            for t, v in zip(todo, self._features(out)):
                self._text_cache[t] = v
        return np.stack([self._text_cache[t] for t in texts])

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """``(N, D)`` unit image embeddings of ``(H, W, 3) uint8`` RGB images."""
        batch = []
        for img in images:
            x = cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            batch.append(((x - _MEAN) / _STD).transpose(2, 0, 1))
        pix = self._torch.from_numpy(np.stack(batch)).to(self.device)
        with self._torch.no_grad():
            out = self.model.get_image_features(pixel_values=pix)
        return self._features(out)

    def _scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    # ------------------------------------------------------------------ scoring
    def score_event(self, onset_face: np.ndarray, apex_face: np.ndarray, aus: list[str]) -> ClipScores:
        """Score one event from its aligned face crops (``(S, S, 3) uint8`` RGB) at onset and apex."""
        crops = {}
        for name, (x0, y0, x1, y1) in REGIONS.items():
            for tag, face in (("on", onset_face), ("ap", apex_face)):
                h, w = face.shape[:2]
                crops[(name, tag)] = face[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
        keys = list(crops)
        emb = dict(zip(keys, self.embed_images([crops[k] for k in keys])))
        scale = self._scale()
        rise: dict[str, float] = {}
        for au, (region, phrase) in AU_PROMPTS.items():
            t = self.embed_text([PROMPT.format(phrase), PROMPT.format(NEUTRAL_PHRASE[region])])
            p = {}
            for tag in ("on", "ap"):
                logits = scale * (t @ emb[(region, tag)])
                e = np.exp(logits - logits.max())
                p[tag] = float(e[0] / e.sum())
            rise[au] = round(p["ap"] - p["on"], 4)
        te = self.embed_text([EMOTION_PROMPT.format(e if e != "neutral" else "no emotion") for e in EMOTIONS])
        logits = scale * (te @ emb[("face", "ap")])
        pe = np.exp(logits - logits.max())
        pe /= pe.sum()
        caption = None
        cands = [PROMPT.format(AU_PROMPTS[a][1]) for a in aus if a in AU_PROMPTS]
        if cands:
            sims = self.embed_text(cands) @ emb[("face", "ap")]
            caption = cands[int(np.argmax(sims))].replace("a close-up photo of ", "")
        return ClipScores(rise, {e: round(float(v), 4) for e, v in zip(EMOTIONS, pe)}, caption)


def _aligned_face(image: np.ndarray, landmarks: np.ndarray, size: int = 224) -> np.ndarray:
    from ..face.align import align_face

    return align_face(image, landmarks, size)[0]


def annotate_events(timeline: Timeline, video: str | os.PathLike[str], store_dir: str | os.PathLike[str] | None,
                    model: str, *, encoder: ClipAUEncoder | None = None) -> int:
    """Add CLIP evidence (``evidence="clip"`` AUs, emotion scores, a retrieved caption) to the face
    events of ``timeline`` in place. Returns the number of events annotated.

    Only the onset and apex frames of face events are decoded and embedded (never every frame).
    """
    from .. import media
    from ..face.store import FaceStore

    face_events = [e for e in timeline.events if e.modality == "face" and e.evidence and e.evidence.track_id is not None]
    if not face_events or store_dir is None:
        return 0
    enc = encoder or ClipAUEncoder(model)
    store = FaceStore(store_dir)
    wanted = sorted({e.start for e in face_events} | {e.apex for e in face_events})
    frames = media.frames_at(video, wanted)
    n = 0
    for ev in face_events:
        d = store.load(ev.evidence.track_id, ["frame", "landmarks"])  # type: ignore[union-attr]
        rows = {int(f): i for i, f in enumerate(d["frame"])}
        on_row = rows.get(ev.evidence.onset_frame)  # type: ignore[union-attr]
        ap_row = rows.get(ev.evidence.apex_frame)  # type: ignore[union-attr]
        if on_row is None or ap_row is None or ev.start not in frames or ev.apex not in frames:
            continue
        img_on, img_ap = frames[ev.start], frames[ev.apex]
        scale = img_ap.shape[1] / max(timeline.media.width, 1)
        on = _aligned_face(img_on, d["landmarks"][on_row] * scale)
        ap = _aligned_face(img_ap, d["landmarks"][ap_row] * scale)
        sc = enc.score_event(on, ap, [a.au for a in ev.aus])
        from ..face.aus import AU_DESCRIPTIONS

        for au, r in sorted(sc.au_rise.items(), key=lambda kv: -kv[1]):
            if r >= CLIP_MIN_RISE:
                ev.aus.append(AUActivation(au=au, name=AU_DESCRIPTIONS.get(au, au), intensity=round(min(1.0, r * 2), 3),
                                           evidence="clip"))
        label = max(sc.emotions, key=sc.emotions.get)
        if ev.emotion is None:
            ev.emotion = EmotionEstimate(label=label, scores=sc.emotions, source="clip")
        else:
            merged = {k: round(0.5 * ev.emotion.scores.get(k, 0.0) + 0.5 * sc.emotions.get(k, 0.0), 4) for k in EMOTIONS}
            ev.emotion = EmotionEstimate(label=max(merged, key=merged.get), scores=merged,
                                         source=f"{ev.emotion.source} + clip")
        if sc.caption:
            ev.caption = f"{ev.caption}; CLIP: {sc.caption}" if ev.caption else sc.caption
        n += 1
    if n == 0:
        raise AffectkitError("CLIP encoder: no event could be matched to its frames")
    return n


def make_tiny_clip(folder: str | os.PathLike[str], seed: int = 0) -> Path:
    """Save a tiny, randomly initialised CLIP (3.5 M parameters at most) with a word-level tokenizer
    covering the encoder's prompts: for tests and offline smoke runs, never for real scores."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

    words = set()
    texts = [PROMPT.format(p) for _, p in AU_PROMPTS.values()] + [PROMPT.format(p) for p in NEUTRAL_PHRASE.values()]
    texts += [EMOTION_PROMPT.format(e) for e in EMOTIONS] + [EMOTION_PROMPT.format("no emotion")]
    for t in texts:
        words.update(t.lower().replace(",", " ").split())
    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3}
    for w in sorted(words):
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   bos_token="[BOS]", eos_token="[EOS]")
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=2, eos_token_id=3,
                         pad_token_id=0),
        vision_config=dict(image_size=64, patch_size=16, hidden_size=64, intermediate_size=128,
                           num_hidden_layers=2, num_attention_heads=2),
        projection_dim=32,
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    CLIPModel(cfg).save_pretrained(out)
    fast.save_pretrained(out)
    return out
