"""Input checks shared by the analysis stages: every error names the input and what is wrong."""

from __future__ import annotations

import torch

from workbench.errors import InputError

__all__ = ["check_finite", "check_finite_vectors", "group_stories", "story_chunks", "emotion_sums", "MIN_EMOTIONS"]

MIN_EMOTIONS = 4


def check_finite(means: torch.Tensor, meta, layers, what: str, start: int = 0) -> None:
    """Raise naming the layers, emotions and texts whose activations hold NaN or inf (``means`` holds
    texts ``start, start + 1, ...``)."""
    bad = ~torch.isfinite(means)
    if not bad.any():
        return
    text_idx, layer_idx = torch.nonzero(bad.any(dim=2), as_tuple=True)
    where: dict[tuple[int, str], list[int]] = {}
    for t, j in zip((text_idx + start).tolist(), layer_idx.tolist()):
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


def story_chunks(acts):
    """``(start, means[start:start + k])`` over the texts of ``acts`` in bounded chunks: read from the run
    folder's file when ``acts`` is memory-mapped (:meth:`StoryActivations.iter_means`)."""
    chunks = getattr(acts, "iter_means", None)
    if chunks is not None:
        return chunks()
    return iter([(0, acts.means)])


def emotion_sums(acts, groups, what: str) -> torch.Tensor:
    """fp64 ``[layer, len(groups), d_model]`` sums of the texts of each group (index tensors into ``acts``;
    texts in no group are left out), one chunk of texts at a time and one layer of a chunk at a time, so
    that the memory used does not grow with the number of texts. A NaN or inf among them makes its sum
    non-finite; only then are the texts scanned again, to name them."""
    which = torch.full((len(acts),), -1, dtype=torch.long)
    for g, index in enumerate(groups):
        which[index] = g
    sums = torch.zeros((acts.means.shape[1], len(groups), acts.means.shape[2]), dtype=torch.float64)
    for start, chunk in story_chunks(acts):
        w = which[start:start + len(chunk)]
        if bool((w < 0).any()):
            chunk, w = chunk[w >= 0], w[w >= 0]
        for layer in range(sums.shape[0]):
            sums[layer].index_add_(0, w, chunk[:, layer].double())
    if not bool(torch.isfinite(sums).all()):
        for start, chunk in story_chunks(acts):
            chunk = torch.where((which[start:start + len(chunk)] >= 0)[:, None, None], chunk, 0.0)
            check_finite(chunk, acts.meta, acts.layers, what, start)
    return sums


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
