"""What moved in a spotted interval: AU guesses, an emotion estimate and a short caption.

Two independent views of the same moment:

* **flow**: the rebuilt ROI displacement at the apex projected on the AU motion templates
  (:data:`affectkit.spotting.rois.PATTERNS`): a template that the displacement follows strongly
  names its AUs (brows up -> AU1+AU2, lip corners up and out -> AU12, ...);
* **blendshape**: AU intensities at the apex minus their level just before the onset.

The emotion applies the EMFACS rules of :mod:`affectkit.face.aus` to the union of both.
"""

from __future__ import annotations

import numpy as np

from ..face import aus as aumod
from ..schema import AUActivation, EmotionEstimate
from .decode import SpottedInterval
from .rois import PATTERNS, pattern_matrix

FULL_SCALE_PX = 4.0
"""Template response (crop pixels, 128 px crop) that counts as intensity 1."""
MIN_PATTERN_PX = 0.35
BLENDSHAPE_MIN_DELTA = 0.08

PHRASES: dict[str, str] = {
    "brow_raise": "brows raised",
    "inner_brow_raise": "inner brows raised",
    "brow_lower": "brows lowered and drawn together",
    "cheek_raise": "cheeks raised",
    "lid_tighten": "lower eyelids tightened",
    "nose_wrinkle": "nose wrinkled",
    "upper_lip_raise": "upper lip raised",
    "lip_corner_pull": "lip corners pulled up",
    "dimpler": "lip corners tightened",
    "lip_corner_depress": "lip corners pulled down",
    "chin_raise": "chin raised",
    "lip_stretch": "lips stretched sideways",
    "lip_press": "lips pressed together",
    "jaw_drop": "mouth opened",
}


def flow_patterns(displacement: np.ndarray) -> list[tuple[str, float]]:
    """Templates the apex displacement follows, strongest first: ``[(pattern, response px)]``.

    Args:
        displacement: ``(R, 2)`` ROI displacement at the apex (crop pixels, y down).
    """
    u = pattern_matrix()
    resp = np.einsum("rc,prc->p", displacement.astype(np.float32), u)
    best = float(resp.max()) if len(resp) else 0.0
    out = [(PATTERNS[p].name, float(resp[p])) for p in np.argsort(-resp)
           if resp[p] >= MIN_PATTERN_PX and resp[p] >= 0.5 * best]
    return out[:3]


def flow_aus(patterns: list[tuple[str, float]]) -> dict[str, float]:
    """AU -> intensity 0-1 from template responses."""
    by_name = {p.name: p for p in PATTERNS}
    out: dict[str, float] = {}
    for name, resp in patterns:
        for au in by_name[name].aus:
            out[au] = max(out.get(au, 0.0), float(np.clip(resp / FULL_SCALE_PX, 0.0, 1.0)))
    return out


def blendshape_aus(aus: np.ndarray, onset: int, apex: int, fps: float) -> dict[str, float]:
    """AU -> rise from just before the onset to the apex (blendshape AUs, blink excluded).

    Args:
        aus: ``(T, len(AU_NAMES))`` AU intensities of the track.
        onset, apex: rows.
    """
    pre = max(1, int(round(0.3 * fps)))
    base = aus[max(0, onset - pre) : onset + 1].mean(0)
    delta = aus[apex] - base
    return {
        a: round(float(delta[i]), 3)
        for i, a in enumerate(aumod.AU_NAMES)
        if a != "AU45" and delta[i] >= BLENDSHAPE_MIN_DELTA
    }


def describe(interval: SpottedInterval, aus: np.ndarray | None, fps: float) -> tuple[
    list[AUActivation], EmotionEstimate | None, str
]:
    """AU activations, an emotion estimate and a caption for one interval."""
    pats = flow_patterns(interval.displacement)
    if interval.pattern and interval.pattern not in [n for n, _ in pats]:
        # the template that detected the interval leads, with its response at the apex
        resp = float(np.einsum("rc,rc->", interval.displacement, pattern_matrix()[[p.name for p in PATTERNS].index(interval.pattern)]))
        pats = [(interval.pattern, abs(resp))] + pats[:2]
    elif interval.pattern:
        pats = sorted(pats, key=lambda p: p[0] != interval.pattern)
    f_aus = flow_aus(pats)
    b_aus = blendshape_aus(aus, interval.onset, interval.apex, fps) if aus is not None else {}
    acts = [AUActivation(au=a, name=aumod.AU_DESCRIPTIONS.get(a, a), intensity=round(v, 3), evidence="flow")
            for a, v in sorted(f_aus.items(), key=lambda kv: -kv[1])]
    acts += [AUActivation(au=a, name=aumod.AU_DESCRIPTIONS.get(a, a), intensity=round(min(v, 1.0), 3),
                          evidence="blendshape")
             for a, v in sorted(b_aus.items(), key=lambda kv: -kv[1])]
    vec = np.zeros(len(aumod.AU_NAMES), np.float32)
    for a, v in {**b_aus, **{k: max(v, b_aus.get(k, 0.0)) for k, v in f_aus.items()}}.items():
        if a in aumod.AU_INDEX:
            vec[aumod.AU_INDEX[a]] = v
    emotion = None
    if vec.any():
        sc = aumod.emotion_scores(vec)
        emotion = EmotionEstimate(
            label=aumod.emotion_label(sc),
            scores={e: round(float(s), 3) for e, s in zip(aumod.EMOTIONS, sc)},
            source=aumod.EMOTION_RULE_SOURCE,
        )
    what = ", ".join(PHRASES[n] for n, _ in pats[:2]) or "a brief facial movement"
    au_txt = "+".join(sorted({a.au for a in acts if a.evidence == "flow"}, key=lambda x: int(x[2:])))
    length = "brief " if interval.kind == "micro_expression" else ""
    cap = f"{length}{what}" + (f" ({au_txt})" if au_txt else "") + f", {interval.duration:.2f} s"
    if emotion is not None and emotion.label != "neutral":
        cap += f"; looks like {emotion.label}"
    return acts, emotion, cap[0].upper() + cap[1:]
