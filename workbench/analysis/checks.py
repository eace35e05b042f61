"""Input checks shared by the analysis stages: every error names the input and what is wrong."""

from __future__ import annotations

import torch

from workbench.errors import InputError

__all__ = ["check_finite", "check_finite_vectors", "group_stories", "MIN_EMOTIONS"]

MIN_EMOTIONS = 4


def check_finite(means: torch.Tensor, meta, layers, what: str) -> None:
    """Raise naming the layers, emotions and texts whose activations hold NaN or inf."""
    bad = ~torch.isfinite(means)
    if not bad.any():
        return
    text_idx, layer_idx = torch.nonzero(bad.any(dim=2), as_tuple=True)
    where: dict[tuple[int, str], list[int]] = {}
    for t, j in zip(text_idx.tolist(), layer_idx.tolist()):
        m = meta[t] if t < len(meta) else {}
        key = (layers[j], m.get("emotion") or m.get("kind") or "?")
        where.setdefault(key, []).append(t)
    shown = "; ".join(f"layer {layer}, emotion {emo!r}: text(s) {texts[:5]}"
                      for (layer, emo), texts in list(where.items())[:8])
    more = f" (and {len(where) - 8} more layer/emotion pairs)" if len(where) > 8 else ""
    raise InputError(f"{what}: NaN or infinite activations at {shown}{more}")


def check_finite_vectors(t: torch.Tensor, emotions, layers, what: str) -> None:
    """Raise naming the (layer, emotion) pairs of ``t`` ``[L, E, d]`` that hold NaN or inf."""
    bad = ~torch.isfinite(t).all(dim=2)
    if bad.any():
        pairs = [(layers[j], emotions[e]) for j, e in torch.nonzero(bad).tolist()]
        more = f" (and {len(pairs) - 10} more)" if len(pairs) > 10 else ""
        raise InputError(f"{what}: NaN or infinite values at (layer, emotion) {pairs[:10]}{more}")


def group_stories(acts, what: str):
    """(emotions in order of first appearance, one index tensor of texts per emotion).

    Every text must be of kind ``story`` and name its emotion.
    """
    order: dict[str, list[int]] = {}
    wrong = []
    for i, m in enumerate(acts.meta):
        if m.get("kind", "story") != "story":
            wrong.append((i, m.get("kind")))
            continue
        emotion = m.get("emotion")
        if not emotion:
            raise InputError(f"{what}: text {i} has no emotion in its meta ({m})")
        order.setdefault(emotion, []).append(i)
    if wrong:
        kinds = sorted({str(k) for _, k in wrong})
        raise InputError(f"{what}: {len(wrong)} text(s) of kind {kinds} (e.g. text {wrong[0][0]}); select the "
                         "stories (kind 'story') and pass neutral texts separately")
    if not order:
        raise InputError(f"{what}: no story texts")
    return tuple(order), [torch.tensor(ix, dtype=torch.long) for ix in order.values()]
