"""The token view: each token of a few texts projected on a layer's valence direction.

``score_t = (h_t - c) . d``: ``h_t`` is ``resid_post`` of block ``layer`` at token
``t``, ``d`` the unit valence direction (the analysis' cross-validated ridge
axis on the contrast vectors, ``valence_directions.safetensors``) and ``c`` the
mean of the emotions' raw vectors at that layer, so that 0 is "the average
emotion story" and the sign follows valence. The leading BOS token is not shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.errors import InputError, RunFolderError
from workbench.io import atomic_write_text, read_json
from workbench.runfolder import damaged, run_lock, stamp

if TYPE_CHECKING:
    from workbench.data.ratings import Ratings
    from workbench.models.adapter import ModelAdapter

__all__ = ["TokenText", "TokenView", "token_projections", "make_token_view", "example_texts", "story_text",
           "TOKEN_VIEW_FILE"]

TOKEN_VIEW_FILE = "token_view.json"
TOKEN_VIEW_STAGES = ("collect", "analysis")  # what a token view is made from (stale when either is redone)
FORMAT = 1


@dataclass(frozen=True, eq=False)
class TokenText:
    """One text's tokens (as they read in the text, spacing included) and their scores."""

    label: str
    tokens: tuple[str, ...]
    scores: np.ndarray  # float64 [n_tokens]
    n_tokens: int  # tokens of the whole text, BOS excluded (more than shown when cut at max_tokens)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        s = np.asarray(self.scores, dtype=np.float64)
        if s.shape != (len(self.tokens),) or not np.isfinite(s).all():
            raise InputError(f"token text {self.label!r}: {len(self.tokens)} tokens need as many finite scores, "
                             f"got shape {s.shape}")
        object.__setattr__(self, "scores", s)
        object.__setattr__(self, "tokens", tuple(str(t) for t in self.tokens))

    def to_dict(self) -> dict:
        return {"label": self.label, "tokens": list(self.tokens), "scores": self.scores.tolist(),
                "n_tokens": self.n_tokens, "meta": self.meta}


@dataclass(frozen=True, eq=False)
class TokenView:
    """Token texts at one layer, with how they were made (``info``); saved as ``token_view.json``."""

    layer: int
    texts: tuple[TokenText, ...]
    info: dict = field(default_factory=dict)

    def save(self, run_dir: str | Path) -> Path:
        """Write ``token_view.json`` (under the folder's writer lock). A view that does not say what it was
        made from (``info["made_from"]``) is taken to be of the folder's current collect and analysis."""
        run_dir = Path(run_dir)
        with run_lock(run_dir):
            info = dict(self.info)
            if "made_from" not in info:
                info["made_from"] = stamp(read_json(run_dir / "manifest.json"), TOKEN_VIEW_STAGES)
            payload = {"format": FORMAT, "layer": self.layer, "info": info,
                       "texts": [t.to_dict() for t in self.texts]}
            return atomic_write_text(run_dir / TOKEN_VIEW_FILE, json.dumps(payload, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, run_dir: str | Path) -> TokenView:
        path = Path(run_dir) / TOKEN_VIEW_FILE
        with damaged(path, f"make it again with `workbench report {Path(run_dir)} --tokens`"):
            return cls._parse(read_json(path), path, Path(run_dir))

    @classmethod
    def _parse(cls, obj, path: Path, run_dir: Path) -> TokenView:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("texts"), list):
            raise RunFolderError(f"{path}: not a token view of format {FORMAT}; make it again with "
                                 f"`workbench report {Path(run_dir)} --tokens`")
        try:
            texts = tuple(TokenText(t["label"], t["tokens"], t["scores"], int(t["n_tokens"]), t.get("meta", {}))
                          for t in obj["texts"])
        except (KeyError, TypeError, InputError) as exc:
            raise RunFolderError(f"{path}: a malformed text entry ({exc}); make it again with "
                                 f"`workbench report {Path(run_dir)} --tokens`") from None
        info = obj.get("info", {})
        if not isinstance(info, dict):
            raise TypeError(f"its info is a {type(info).__name__}, not an object")
        return cls(int(obj["layer"]), texts, info)


def _pieces(tokenizer, text: str, ids: list[int], offsets) -> list[str]:
    """Each token as it reads in ``text`` (with the spacing before it), else decoded on its own."""
    if offsets is None:
        return [tokenizer.decode([i]) for i in ids]
    out, end = [], 0
    for a, b in offsets:
        out.append(text[end:b] if a >= end else text[a:b])
        end = max(end, b)
    return out


def _block_output(model, ids: list[int], layer: int) -> torch.Tensor:
    """``resid_post`` of block ``layer`` for one unpadded sequence: float64 ``[seq, d_model]``."""
    held: dict[str, torch.Tensor] = {}
    model.run_blocks(torch.tensor([ids], device=model.device), torch.ones(1, len(ids), dtype=torch.long,
                                                                          device=model.device),
                     lambda _layer, h: held.__setitem__("h", h[0].detach().double().cpu()), layers=[layer])
    return held["h"]


def token_projections(model: ModelAdapter, texts: Sequence[str], direction, layer: int, centre=None,
                      max_tokens: int = 192, labels: Sequence[str] | None = None) -> list[TokenText]:
    """Project every token of each of ``texts`` on ``direction`` at block ``layer`` of ``model``.

    ``direction``: ``[d_model]`` (normalised here); ``centre``: ``[d_model]`` subtracted first
    (default 0); texts are cut at ``max_tokens`` tokens (scores of the tokens shown do not
    depend on the cut: the model is causal). One forward pass per text, no padding.
    """
    (layer,) = model.check_layers([layer])
    d = torch.as_tensor(np.asarray(direction, dtype=np.float64)).flatten()
    if d.shape != (model.d_model,) or not torch.isfinite(d).all() or d.norm() == 0:
        raise InputError(f"token_projections: direction must be {model.d_model} finite values, not all 0 "
                         f"(got shape {tuple(d.shape)})")
    d = d / d.norm()
    c = torch.zeros(model.d_model, dtype=torch.float64) if centre is None else \
        torch.as_tensor(np.asarray(centre, dtype=np.float64)).flatten()
    if c.shape != (model.d_model,):
        raise InputError(f"token_projections: centre has shape {tuple(c.shape)}, expected ({model.d_model},)")
    texts = list(texts)
    labels = [f"text {i + 1}" for i in range(len(texts))] if labels is None else list(labels)
    if not texts or len(labels) != len(texts):
        raise InputError(f"token_projections: {len(texts)} texts and {len(labels)} labels")
    tok, bos = model.tokenizer, model.tokenizer.bos_token_id
    out = []
    for label, text in zip(labels, texts):
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"token_projections: {label} is empty or not a string")
        enc = tok(text, add_special_tokens=True, return_offsets_mapping=bool(getattr(tok, "is_fast", False)))
        ids, offsets = list(enc["input_ids"]), enc.get("offset_mapping")
        first = 1 if bos is not None and ids and ids[0] == bos else 0
        n_total = len(ids) - first
        keep = ids[:max_tokens + first]
        scores = ((_block_output(model, keep, layer) - c) @ d)[first:].numpy()
        pieces = _pieces(tok, text, keep[first:], None if offsets is None else offsets[first:len(keep)])
        out.append(TokenText(label, tuple(pieces), scores, n_total))
    return out


def story_text(meta: dict, run_dir: Path, cache: dict | None = None) -> str:
    """The text of the story ``meta`` (a row of ``texts.jsonl``), read back from its corpus file
    (``cache``: a dict that keeps each file's lines between calls)."""
    source, line, number = meta.get("source"), meta.get("line"), meta.get("story")
    path = Path(str(source))
    if not source or not isinstance(line, int) or not isinstance(number, int) or not path.is_file():
        raise RunFolderError(f"{run_dir}/texts.jsonl: the story's source file {source!r} is not found (paths are "
                             "relative to the folder the collect ran in): run from there, or give the texts (--text at the CLI)")
    cache = {} if cache is None else cache
    if str(path) not in cache:
        cache[str(path)] = path.read_text(encoding="utf-8").splitlines()
    rows = cache[str(path)]
    row = json.loads(rows[line - 1]) if 0 < line <= len(rows) else {}
    stories = row.get("stories") if isinstance(row, dict) else None
    if str(row.get("emotion", "")).strip() != meta.get("emotion") or not stories or number > len(stories):
        raise RunFolderError(f"{path}, line {line}: no story {number} of {meta.get('emotion')!r} there any more "
                             "(the corpus changed since the collect); give the texts (--text at the CLI)")
    return stories[number - 1]


def example_texts(run_dir, emotions, ratings, neutral_texts=None) -> list[tuple[str, str, dict]]:
    """``(label, text, meta)`` for the token view: the first story of the most positive and of the
    most negative emotion among ``emotions`` (by ``ratings``), read back from the corpus file
    recorded in ``texts.jsonl``, and the first of ``neutral_texts`` (default: the bundled ones)."""
    from workbench.data.neutral import load_neutral_texts

    run_dir = Path(run_dir)
    metas = [json.loads(x) for x in (run_dir / "texts.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rated = ratings.subset(emotions)
    have = {m.get("emotion") for m in metas if m.get("kind", "story") == "story"}
    order = [i for i in np.argsort(rated.valence) if rated.emotions[i] in have]
    if not order:
        raise RunFolderError(f"{run_dir}/texts.jsonl: no story of the analysed emotions")
    out = []
    for which, i in (("most positive", order[-1]), ("most negative", order[0])):
        emotion, valence = rated.emotions[i], float(rated.valence[i])
        meta = next(m for m in metas if m.get("emotion") == emotion and m.get("kind", "story") == "story")
        label = f"story of the {which} emotion: {emotion} (valence {valence:+.2f}), story {meta.get('story')}"
        out.append((label, story_text(meta, run_dir), {"kind": "story", "emotion": emotion, "valence": valence,
                                                         "topic": meta.get("topic"), "story": meta.get("story")}))
    which = "the run's neutral texts" if neutral_texts is not None else "the bundled neutral texts"
    neutral = list(neutral_texts) if neutral_texts is not None else list(load_neutral_texts())
    out.append((f"neutral text (first of {which})", neutral[0], {"kind": "neutral"}))
    return out


def make_token_view(model: ModelAdapter, run_dir: str | Path, texts: Sequence[str] | None = None,
                    layer: int | None = None, neutral_texts: Sequence[str] | None = None,
                    max_tokens: int = 192, ratings: Ratings | None = None) -> TokenView:
    """The token view of an analysed run folder with its ``model`` (already loaded).

    ``layer``: default the peak PC1-valence layer; ``texts``: default :func:`example_texts`
    (``ratings``: the analysis' ratings, default the project's).
    """
    from workbench.analysis.report import GeometryReport
    from workbench.analysis.vectors import EmotionVectors
    from workbench.data.ratings import load_ratings
    from workbench.report.check import check_run_folder
    from workbench.runfolder.layers import check_layer

    run_dir = Path(run_dir)
    manifest = check_run_folder(run_dir)
    report, vectors = GeometryReport.load(run_dir), EmotionVectors.load(run_dir)
    if vectors.d_model != model.d_model:
        raise InputError(f"{model.name} has d_model {model.d_model} but {run_dir} was collected with "
                         f"d_model {vectors.d_model}: use the run's model")
    spec = manifest["collect"].get("model", {})
    theirs, ours = spec.get("weights_sha256"), getattr(model.spec, "weights_sha256", None)
    if theirs and ours and theirs != ours:
        raise InputError(f"{model.name}'s weights (sha256 {ours[:12]}...) are not the ones {run_dir} was "
                         f"collected with ({theirs[:12]}...)")
    off = report.condition(False)
    if layer is None:
        if off.peak.layer is None:
            raise InputError(f"token view: no layer of {run_dir} has a defined PC1-valence r (the default layer "
                             "is the peak); give the layer")
        layer = off.peak.layer
    layer = check_layer(layer, report.n_model_layers, report.layers)
    j = report.layers.index(layer)
    if not np.isfinite(off.directions[j]).all():
        raise InputError(f"token view: {run_dir} has no valence direction at layer {layer} (too few emotions "
                         "for the cross-validated fit)")
    centre = vectors.select(report.emotions).raw[vectors.layer_index(layer)].double().mean(dim=0).numpy()
    if texts is None:
        chosen = example_texts(run_dir, report.emotions, ratings or load_ratings(), neutral_texts)
    else:
        chosen = [(f"text {i + 1}", t, {"kind": "given"}) for i, t in enumerate(texts)]
    projected = token_projections(model, [t for _, t, _ in chosen], off.directions[j], layer, centre, max_tokens,
                                  labels=[label for label, _, _ in chosen])
    made = tuple(TokenText(m.label, m.tokens, m.scores, m.n_tokens, meta) for m, (_, _, meta) in zip(projected, chosen))
    info = {"model": model.name, "direction": "valence_directions.safetensors 'directions' (ridge axis, contrast "
            "vectors, neutral projection off)", "centre": "mean of the analysed emotions' raw vectors at the layer",
            "max_tokens": max_tokens, "made_from": stamp(manifest, TOKEN_VIEW_STAGES)}
    return TokenView(int(layer), made, info)
