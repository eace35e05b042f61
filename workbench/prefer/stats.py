"""Statistics of preference tournaments: both orders averaged, position bias, Elo, the Elo-valence r, shifts.

A tournament is one ``gap`` (logit(A) - logit(B)) per ordered pair ``(first, second)``. For the unordered
pair {i, j} (i < j), ``P(i | i first) = sigmoid(gap(i, j))`` and ``P(i | i second) = 1 - sigmoid(gap(j, i))``;
the order-free preference is ``q_ij = sigmoid((gap(i, j) - gap(j, i)) / 2)``, the mean of the two
orders in logit space, so a constant pull towards A (or B) cancels exactly (averaging the two
probabilities instead would cancel it only at first order and shrink the strengths). Bradley-Terry
is fitted to the ``q`` (:mod:`workbench.prefer.bt`).

Intervals: the Elo of each activity, and every difference of Elos (the pleasant-minus-unpleasant gap,
its shift under steering), from a bootstrap over the unordered pairs, the same resamples for every
tournament (so a shift's interval is paired). The Elo-valence r resamples the activities (the unit of
that correlation), each replicate using a pair-bootstrap refit of the Elo; its p permutes the
projections across activities.
"""

from __future__ import annotations

import numpy as np

from workbench.analysis.stats import pearson, pearson_p, percentile_ci, permutation_draws, permutation_p
from workbench.errors import InputError

__all__ = ["pair_design", "order_pairs", "order_free", "position_bias", "group_gap", "elo_valence", "interval"]


def pair_design(n_items: int, n_pairs: int, seed: int) -> list[tuple[int, int]]:
    """``n_pairs`` distinct unordered pairs (``0``: all), in rounds of random perfect matchings so that every
    item is in about the same number of pairs."""
    every = n_items * (n_items - 1) // 2
    if n_pairs == 0 or n_pairs >= every:
        return [(i, j) for i in range(n_items) for j in range(i + 1, n_items)]
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(1000 * n_pairs):  # a round that repeats a pair is drawn again, so rounds stay balanced
        order = rng.permutation(n_items)
        round_ = [(int(min(a, b)), int(max(a, b))) for a, b in zip(order[0::2], order[1::2])]
        if any(p in seen for p in round_):
            continue
        for pair in round_[:n_pairs - len(chosen)]:
            seen.add(pair)
            chosen.append(pair)
        if len(chosen) == n_pairs:
            return sorted(chosen)
    raise InputError(f"could not draw {n_pairs} distinct pairs of {n_items} items")  # pragma: no cover


def order_pairs(pairs) -> list[tuple[int, int]]:
    """Both orders of every unordered pair: ``(i, j), (j, i), ...``."""
    return [p for i, j in pairs for p in ((i, j), (j, i))]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _both_orders(ordered, gap):
    index = {pair: k for k, pair in enumerate(ordered)}
    keys = sorted({(min(a, b), max(a, b)) for a, b in ordered})
    missing = [p for p in keys if p not in index or p[::-1] not in index]
    if missing:
        raise InputError(f"pairs {missing[:3]} were asked in one order only")
    i, j = np.array(keys).T
    gap = np.asarray(gap, dtype=np.float64)
    return i, j, gap[[index[p] for p in keys]], gap[[index[p[::-1]] for p in keys]]


def unordered(ordered, gap) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, p_first_order, p_second_order)``: per unordered pair (i < j), P(i chosen) with i shown first
    and with i shown second. ``ordered`` lists both orders of each pair (:func:`order_pairs`)."""
    i, j, g1, g2 = _both_orders(ordered, gap)
    return i, j, _sigmoid(g1), 1.0 - _sigmoid(g2)


def order_free(ordered, gap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, q)``: per unordered pair (i < j), ``q = sigmoid((gap(i, j) - gap(j, i)) / 2)``."""
    i, j, g1, g2 = _both_orders(ordered, gap)
    return i, j, _sigmoid((g1 - g2) / 2)


def position_bias(ordered, gap) -> dict:
    """How much the answer depends on the order: P(A) over all prompts; the share of pairs whose chosen
    activity flips with the order, raw and after subtracting the mean gap (the average pull to A);
    after averaging both orders every pair has one answer, so what is left is reported as the share of
    pairs whose averaged preference is within 0.05 of a tie."""
    gap = np.asarray(gap, dtype=np.float64)
    _, _, p1, p2 = unordered(ordered, gap)
    _, _, c1, c2 = unordered(ordered, gap - gap.mean())
    q = order_free(ordered, gap)[2]
    return {"p_answer_a": float(_sigmoid(gap).mean()), "mean_gap": float(gap.mean()),
            "flip_share_raw": float(np.mean((p1 > 0.5) != (p2 > 0.5))),
            "flip_share_centred": float(np.mean((c1 > 0.5) != (c2 > 0.5))),
            "near_tie_share_averaged": float(np.mean(np.abs(q - 0.5) < 0.05)),
            "n_pairs": int(len(q))}


def group_gap(elo, groups) -> np.ndarray:
    """Mean Elo of the pleasant activities minus that of the unpleasant ones (along the last axis)."""
    elo = np.asarray(elo, dtype=np.float64)
    g = np.asarray(groups)
    return elo[..., g == "pleasant"].mean(axis=-1) - elo[..., g == "unpleasant"].mean(axis=-1)


def interval(samples, level: float = 0.95) -> tuple[float, float]:
    low, high = percentile_ci(np.asarray(samples, dtype=np.float64), level)
    return float(low), float(high)


def elo_valence(elo, projection, elo_boot, n_perm: int, seed: int) -> dict:
    """Pearson r of Elo and projection across activities, a bootstrap interval (activities resampled, Elo
    from a pair-bootstrap refit per replicate) and a two-sided permutation p (projections shuffled)."""
    elo, x = np.asarray(elo, dtype=np.float64), np.asarray(projection, dtype=np.float64)
    n = len(elo)
    r = float(pearson(elo, x))
    rng = np.random.default_rng(seed)
    boots = np.asarray(elo_boot, dtype=np.float64)
    idx = rng.integers(0, n, size=(len(boots), n))
    rows = np.arange(len(boots))[:, None]
    rb = pearson(boots[rows, idx], x[idx])
    low, high = interval(rb[np.isfinite(rb)]) if np.isfinite(rb).any() else (float("nan"), float("nan"))
    perms = permutation_draws(rng, n_perm, n)
    null = np.abs(pearson(np.broadcast_to(elo, perms.shape), x[perms]))
    return {"r": r, "ci_low": low, "ci_high": high, "p_perm": float(permutation_p(np.abs(r), null[:, None])[0]),
            "p_t": float(pearson_p(np.asarray(r), n)), "n": n, "n_perm": int(n_perm)}
