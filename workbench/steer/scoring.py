"""Scores of generated continuations: VADER, read-back on the valence axis, perplexity.

All three are computed on the continuation only (the prompt is the same at every alpha):

- ``vader``: VADER's compound score (-1..1) of the continuation's text;
- ``readback``: the unsteered model run on prompt + continuation; the mean over the
  continuation's tokens of ``resid_post`` at the read-back layer projected on the
  analysis' unit valence direction there;
- ``perplexity``: exp of the mean negative log-likelihood of the continuation's
  tokens given what precedes them, under the unsteered model. Logits are computed
  only at those positions (the LM head is applied to the final-normed last block
  output there), in the model's dtype like a normal forward pass.

A continuation with no token (EOS first) gets NaN read-back and perplexity, and a
continuation with no visible text (no token, or only whitespace) a NaN VADER score:
VADER gives such a text 0.0, which would count it as neutral and pull the extreme
alphas (where the model most often stops at once) towards 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.errors import InputError

__all__ = ["vader_scores", "readback_and_perplexity", "continuation_nll"]

_LM_HEAD_CHUNK = 256  # positions per LM-head matmul (262k-token vocabularies: 256 x 262k floats = 268 MB)


def vader_scores(texts) -> np.ndarray:
    """VADER compound score of each text; NaN (missing) for a text with no visible character."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] if t.strip() else np.nan for t in texts],
                    dtype=np.float64)


def _lm_logits(model, hidden: torch.Tensor) -> torch.Tensor:
    """Logits (float32) of final-normed hidden states ``[n, d]``, with the model's final soft-capping."""
    head = model.hf_model.get_output_embeddings()
    logits = head(hidden).float()
    cap = getattr(model.hf_model.config.get_text_config(), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def continuation_nll(model, final_hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of ``targets`` ``[n]`` given final-normed hidden states ``[n, d]`` before them."""
    out = []
    for i in range(0, len(targets), _LM_HEAD_CHUNK):
        logits = _lm_logits(model, final_hidden[i:i + _LM_HEAD_CHUNK])
        t = targets[i:i + _LM_HEAD_CHUNK].to(logits.device)
        out.append(torch.logsumexp(logits, dim=-1) - logits.gather(-1, t[:, None]).squeeze(-1))
    return torch.cat(out) if out else torch.zeros(0)


def _batches(order, lengths, max_tokens):
    batch: list[int] = []
    width = 0
    for i in order:
        w = max(width, lengths[i])
        if batch and w * (len(batch) + 1) > max_tokens:
            yield batch
            batch, w = [], lengths[i]
        batch.append(i)
        width = w
    if batch:
        yield batch


def readback_and_perplexity(model, sequences, layer: int, direction: torch.Tensor,
                            max_tokens_per_batch: int = 4096, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(read-back, perplexity) of each ``(prompt_ids, new_ids)`` under the unsteered model.

    Identical sequences are scored once. ``direction`` is the unit valence direction at ``layer``.
    """
    from tqdm.auto import tqdm

    if model.active_interventions:
        raise InputError("scoring runs the unsteered model: leave the steering context first")
    (layer,) = model.check_layers([layer])
    last = model.n_layers - 1
    direction = torch.as_tensor(direction, dtype=torch.float32).flatten()
    if direction.shape != (model.d_model,):
        raise InputError(f"read-back direction has {direction.numel()} values; d_model is {model.d_model}")
    unique: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    keys = [unique.setdefault((tuple(p), tuple(n)), len(unique)) for p, n in sequences]
    items = list(unique)
    readback = np.full(len(items), np.nan)
    perplexity = np.full(len(items), np.nan)
    lengths = [len(p) + len(n) for p, n in items]
    scored = [i for i in range(len(items)) if items[i][1]]
    order = sorted(scored, key=lambda i: lengths[i])
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    bar = tqdm(total=len(order), desc="steer: score", unit="text", disable=not progress)
    for batch in _batches(order, lengths, max_tokens_per_batch):
        bar.update(len(batch))
        width = max(lengths[i] for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            seq = items[i][0] + items[i][1]
            ids[r, :len(seq)] = torch.tensor(seq)
            mask[r, :len(seq)] = 1
        got: dict[int, torch.Tensor] = {}
        model.run_blocks(ids.to(model.device), mask.to(model.device), got.__setitem__, layers=sorted({layer, last}))
        with torch.inference_mode():
            rows, cols = [], []
            for r, i in enumerate(batch):
                p, n = len(items[i][0]), len(items[i][1])
                rows += [r] * n
                cols += list(range(p, p + n))
            rows_t, cols_t = torch.tensor(rows), torch.tensor(cols)
            proj = got[layer][rows_t, cols_t].float() @ direction.to(got[layer].device)
            final = model.final_norm(got[last][rows_t, cols_t - 1])
            nll = continuation_nll(model, final, ids[rows_t, cols_t]).double().cpu()
        start = 0
        for i in batch:
            n = len(items[i][1])
            readback[i] = float(proj[start:start + n].double().mean())
            perplexity[i] = math.exp(float(nll[start:start + n].mean()))
            start += n
    bar.close()
    index = np.asarray(keys, dtype=np.int64)
    return readback[index], perplexity[index]
