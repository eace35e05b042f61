"""``vector_logit_lens``: each emotion vector's promoted and suppressed tokens, and the own-word share.

Files (``LogitLens.save``): ``logit_lens.json`` (everything), ``logit_lens.csv``
(the tidy table: one row per emotion, side and rank) and last the ``lens``
section of ``manifest.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.errors import InputError, RunFolderError
from workbench.io import atomic_write_text, read_json
from workbench.lens.head import head_lens
from workbench.lens.own import OwnWordShare, form_token_ids, hit_matrix, own_word_share

if TYPE_CHECKING:
    from workbench.analysis.vectors import EmotionVectors
    from workbench.models.adapter import ModelAdapter

__all__ = ["LogitLens", "vector_logit_lens", "LENS_FILES"]

LENS_FILES = ("logit_lens.json", "logit_lens.csv")
FORMAT = 1
CSV_COLUMNS = ("emotion", "side", "rank", "token_id", "token", "value", "own_form")


@dataclass(frozen=True, eq=False)
class LogitLens:
    """Per emotion, the ``k`` most promoted and most suppressed tokens (ids, text, logit change per unit push).

    ``own[e]``: whether emotion ``e``'s promoted tokens hold a form of its word; ``share``: the
    own-word share with its random-direction null (None when no null was drawn).
    """

    emotions: tuple[str, ...]
    layer: int
    k: int
    top_ids: np.ndarray  # int64 [n_emotions, k]
    top_values: np.ndarray  # float64 [n_emotions, k]
    bottom_ids: np.ndarray
    bottom_values: np.ndarray
    pieces: dict  # token id -> its vocabulary piece, for every id shown
    own: tuple[bool, ...]
    share: OwnWordShare | None = None
    info: dict = field(default_factory=dict)
    forms: dict = field(default_factory=dict)  # emotion -> frozenset of the token ids that are a form of its word

    def table(self) -> list[dict]:
        """Tidy rows: emotion, side (promoted/suppressed), rank (1 = strongest), token id and text, value."""
        rows = []
        for e, name in enumerate(self.emotions):
            for side, ids, values in (("promoted", self.top_ids, self.top_values),
                                      ("suppressed", self.bottom_ids, self.bottom_values)):
                for r in range(ids.shape[1]):
                    i = int(ids[e, r])
                    rows.append({"emotion": name, "side": side, "rank": r + 1, "token_id": i,
                                 "token": self.pieces[i], "value": float(values[e, r]),
                                 "own_form": side == "promoted" and i in self.forms.get(name, ())})
        return rows

    def tokens(self, emotion: str, side: str = "promoted") -> list[str]:
        """The tokens of ``emotion`` (``"promoted"`` or ``"suppressed"``), strongest first."""
        if emotion not in self.emotions:
            raise InputError(f"logit lens: no emotion {emotion!r}")
        ids = {"promoted": self.top_ids, "suppressed": self.bottom_ids}[side]
        return [self.pieces[int(i)] for i in ids[self.emotions.index(emotion)]]

    # ---- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        from workbench.runfolder import csv_text, run_lock, update_manifest, versions

        directory = Path(directory)
        with run_lock(directory):  # one writer per run folder
            info = dict(self.info)
            payload = {"format": FORMAT, "emotions": list(self.emotions), "layer": self.layer, "k": self.k,
                       "top_ids": self.top_ids.tolist(), "top_values": self.top_values.tolist(),
                       "bottom_ids": self.bottom_ids.tolist(), "bottom_values": self.bottom_values.tolist(),
                       "pieces": {str(i): p for i, p in self.pieces.items()}, "own": list(self.own),
                       "forms": {e: sorted(v) for e, v in self.forms.items()},
                       "share": None if self.share is None else self.share.to_dict(), "info": info}
            atomic_write_text(directory / LENS_FILES[0], json.dumps(payload, ensure_ascii=False) + "\n")
            atomic_write_text(directory / LENS_FILES[1], csv_text(CSV_COLUMNS, self.table()))
            update_manifest(directory, "lens", {"layer": self.layer, "k": self.k, "files": list(LENS_FILES),
                                                "share": None if self.share is None else self.share.share,
                                                "info": info, "versions": versions()})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LogitLens:
        path = Path(directory) / LENS_FILES[0]
        if not path.is_file():
            raise RunFolderError(f"{path} is missing: make it with `workbench lens {Path(directory)} --layer L`")
        obj = read_json(path)
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise RunFolderError(f"{path}: not a logit lens of format {FORMAT}; make it again with "
                                 f"`workbench lens {Path(directory)} --layer L`")
        try:
            forms = {e: frozenset(v) for e, v in obj["forms"].items()}
            return cls(tuple(obj["emotions"]), int(obj["layer"]), int(obj["k"]),
                       np.asarray(obj["top_ids"], dtype=np.int64), np.asarray(obj["top_values"], dtype=np.float64),
                       np.asarray(obj["bottom_ids"], dtype=np.int64),
                       np.asarray(obj["bottom_values"], dtype=np.float64),
                       {int(i): p for i, p in obj["pieces"].items()}, tuple(bool(x) for x in obj["own"]),
                       None if obj["share"] is None else OwnWordShare.from_dict(obj["share"]),
                       obj.get("info", {}), forms)
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFolderError(f"{path}: malformed ({exc}); make it again with `workbench lens`") from None


def _display(tokenizer, ids) -> dict[int, str]:
    pieces = tokenizer.convert_ids_to_tokens([int(i) for i in ids])
    return {int(i): (tokenizer.convert_tokens_to_string([p]) if p else "") for i, p in zip(ids, pieces)}


def vector_logit_lens(model: ModelAdapter, vectors: EmotionVectors, layer: int, k: int = 20, kind: str = "contrast", n_random: int = 1000,
                      n_sets: int = 10000, seed: int = 0) -> LogitLens:
    """The logit lens of every emotion vector at block ``layer`` (see :mod:`workbench.lens.head`).

    The lens is taken at the layer's mean residual ``m``: the mean of the emotions' raw vectors (the
    mean over the emotions of their stories' mean ``resid_post``). ``kind``: which vectors
    (``"contrast"``, ``"projected"``). ``n_random`` isotropic random directions (seeded) give the
    own-word share's null (0: no null).
    """
    (layer,) = model.check_layers([layer])
    if vectors.d_model != model.d_model:
        raise InputError(f"logit lens: the vectors have d_model {vectors.d_model}, {model.name} has {model.d_model}")
    j = vectors.layer_index(layer)
    directions = vectors.kind(kind)[j].double()
    point = vectors.raw[j].double().mean(dim=0)
    top_i, top_v, bot_i, bot_v = head_lens(model, directions, point, k)
    emotions = tuple(vectors.emotions)
    forms = form_token_ids(model.tokenizer, emotions)
    own = hit_matrix(top_i.numpy(), emotions, forms).diagonal()
    share = None
    if n_random:
        gen = torch.Generator().manual_seed(seed)
        random = torch.randn(n_random, model.d_model, generator=gen, dtype=torch.float64)
        rand_top, _, _, _ = head_lens(model, random, point, k)
        share = own_word_share(emotions, top_i.numpy(), rand_top.numpy(), forms, k, n_sets, seed)
    ids = np.unique(np.concatenate([top_i.numpy().ravel(), bot_i.numpy().ravel()]))
    pieces = _display(model.tokenizer, ids)
    info = {"model": model.name, "kind": kind, "point": "mean of the emotions' raw vectors at the layer",
            "method": "W_U . J_final_norm(m) . u (first-order logit change per unit push along u, at m)",
            "n_random": n_random, "seed": seed, "vocab": len(model.tokenizer)}
    return LogitLens(emotions, int(layer), int(k), top_i.numpy().astype(np.int64), top_v.double().numpy(),
                     bot_i.numpy().astype(np.int64), bot_v.double().numpy(), pieces, tuple(bool(x) for x in own),
                     share, info, {e: frozenset(v) for e, v in forms.items()})

