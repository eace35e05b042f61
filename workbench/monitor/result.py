"""``MonitorResult``: per-token z-scores of every emotion vector over texts and chat transcripts."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.arrays import set_per_emotion
from workbench.errors import InputError, RunFolderError
from workbench.io import atomic_write_text, read_json

__all__ = ["MonitorText", "MonitorResult", "MONITOR_FILE"]

MONITOR_FILE = "monitor.json"
FORMAT = 1


@dataclass(frozen=True, eq=False)
class MonitorText:
    """One monitored text or transcript.

    ``tokens[t]`` reads as in the rendered text (spacing included); ``z[t, e]`` is the
    z-score of emotion ``e`` at that token; ``message[t]`` the index of the message whose
    content holds it (``-1``: a token of the chat template) and ``roles[t]`` its role
    (``"text"`` for a plain text). ``messages`` are the transcript's messages (a plain
    text is one message of role ``"text"``).
    """

    label: str
    tokens: tuple[str, ...]
    z: np.ndarray  # float64 [n_tokens, n_emotions]
    message: tuple[int, ...]
    roles: tuple[str | None, ...]
    messages: tuple[dict, ...]

    def __post_init__(self):
        z = np.asarray(self.z, dtype=np.float64)
        n = len(self.tokens)
        if z.ndim != 2 or z.shape[0] != n or len(self.message) != n or len(self.roles) != n:
            raise InputError(f"monitor text {self.label!r}: {n} tokens, z of shape {z.shape}, "
                             f"{len(self.message)} message indices, {len(self.roles)} roles")
        object.__setattr__(self, "z", z)

    def message_means(self) -> np.ndarray:
        """``[n_messages, n_emotions]``: the mean z over each message's tokens (NaN for a message cut off)."""
        index = np.asarray(self.message)
        out = np.full((len(self.messages), self.z.shape[1]), np.nan)
        for m in range(len(self.messages)):
            if (index == m).any():
                out[m] = self.z[index == m].mean(axis=0)
        return out

    def to_dict(self) -> dict:
        return {"label": self.label, "tokens": list(self.tokens), "z": np.round(self.z, 6).tolist(),
                "message": list(self.message), "roles": list(self.roles), "messages": list(self.messages)}

    @classmethod
    def from_dict(cls, d: dict) -> MonitorText:
        return cls(d["label"], tuple(d["tokens"]), np.asarray(d["z"], dtype=np.float64).reshape(len(d["tokens"]), -1),
                   tuple(int(m) for m in d["message"]), tuple(d["roles"]), tuple(d["messages"]))


@dataclass(frozen=True, eq=False)
class MonitorResult:
    """Per-token z-scores at block ``layer``: ``(h_t . u_e - neutral_mean[e]) / neutral_sd[e]``.

    ``u_e`` is emotion ``e``'s unit vector; ``neutral_mean`` and ``neutral_sd`` are the mean
    and standard deviation of the same projection over the neutral texts' tokens, so 2 means
    two neutral-token standard deviations. ``valence[e]`` is the emotion's rating (NaN when
    unrated), used to order the figures. ``info`` records how it was made.
    """

    layer: int
    emotions: tuple[str, ...]
    texts: tuple[MonitorText, ...]
    neutral_mean: np.ndarray
    neutral_sd: np.ndarray
    valence: tuple[float, ...] = ()
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        set_per_emotion(self, ("neutral_mean", "neutral_sd"), "monitor")
        e = len(self.emotions)
        if self.valence and len(self.valence) != e:
            raise InputError(f"monitor: {len(self.valence)} valences for {e} emotions")
        for t in self.texts:
            if t.z.shape[1] != e:
                raise InputError(f"monitor text {t.label!r}: z for {t.z.shape[1]} emotions, expected {e}")

    def text(self, which: int | str = 0) -> MonitorText:
        if isinstance(which, str):
            found = [t for t in self.texts if t.label == which]
            if not found:
                raise InputError(f"monitor: no text labelled {which!r} (labels: {[t.label for t in self.texts]})")
            return found[0]
        if not -len(self.texts) <= which < len(self.texts):
            raise InputError(f"monitor: text {which} is out of range ({len(self.texts)} texts)")
        return self.texts[which]

    def emotion_index(self, emotion: str) -> int:
        if emotion not in self.emotions:
            raise InputError(f"monitor: unknown emotion {emotion!r}")
        return self.emotions.index(emotion)

    def series(self, emotion: str, text: int | str = 0) -> np.ndarray:
        """The z-scores of ``emotion`` over the tokens of ``text``."""
        return self.text(text).z[:, self.emotion_index(emotion)]

    def top_k(self, k: int = 3, text: int | str = 0) -> list[list[tuple[str, float]]]:
        """Per token of ``text``, the ``k`` emotions with the highest z, highest first."""
        t = self.text(text)
        order = np.argsort(-t.z, axis=1, kind="stable")[:, :k]
        return [[(self.emotions[j], float(t.z[i, j])) for j in row] for i, row in enumerate(order)]

    def message_means(self, text: int | str = 0) -> list[dict]:
        """One row per message of ``text``: its index, role and the mean z of every emotion."""
        t = self.text(text)
        means = t.message_means()
        return [{"message": m, "role": t.messages[m]["role"], **dict(zip(self.emotions, means[m].tolist()))}
                for m in range(len(t.messages))]

    def valence_order(self) -> list[int]:
        """Emotion indices from the most negative valence to the most positive (unrated last)."""
        v = np.asarray(self.valence if self.valence else [np.nan] * len(self.emotions), dtype=np.float64)
        return sorted(range(len(self.emotions)), key=lambda i: (np.isnan(v[i]), v[i] if not np.isnan(v[i]) else 0, i))

    # ---- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "layer": self.layer, "emotions": list(self.emotions),
                "valence": [None if v != v else v for v in map(float, self.valence)],
                "neutral_mean": self.neutral_mean.tolist(), "neutral_sd": self.neutral_sd.tolist(),
                "info": self.info, "texts": [t.to_dict() for t in self.texts]}

    def save(self, path: str | Path) -> Path:
        """Write ``monitor.json`` into the folder ``path`` (or to ``path`` when it ends in ``.json``)."""
        path = Path(path)
        target = path if path.suffix == ".json" else path / MONITOR_FILE
        from workbench.runfolder import run_lock

        with run_lock(target.parent):  # one writer per run folder
            return atomic_write_text(target, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MonitorResult:
        path = Path(path)
        target = path if path.suffix == ".json" else path / MONITOR_FILE
        obj = read_json(target)
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("texts"), list):
            raise RunFolderError(f"{target}: not a monitor result of format {FORMAT}; make it again with "
                                 "`workbench monitor`")
        try:
            texts = tuple(MonitorText.from_dict(t) for t in obj["texts"])
            valence = tuple(float("nan") if v is None else float(v) for v in obj.get("valence") or ())
            return cls(int(obj["layer"]), tuple(obj["emotions"]), texts, np.asarray(obj["neutral_mean"]),
                       np.asarray(obj["neutral_sd"]), valence, obj.get("info", {}))
        except (KeyError, TypeError, ValueError, InputError) as exc:
            raise RunFolderError(f"{target}: a malformed monitor result ({exc}); make it again with "
                                 "`workbench monitor`") from None

    # ---- display ----------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        head = (f"<p><b>Monitor</b>, layer {self.layer}: {len(self.emotions)} emotions, {len(self.texts)} text(s); "
                f"z against {self.info.get('neutral_tokens', '?')} neutral-text tokens.</p>")
        rows = []
        for t in self.texts:
            means = t.message_means()
            for m, message in enumerate(t.messages):
                if np.isnan(means[m]).all():
                    continue
                top = np.argsort(-means[m], kind="stable")[:3]
                best = ", ".join(f"{html.escape(self.emotions[j])} {means[m, j]:+.2f}" for j in top)
                preview = html.escape(message["content"][:60] + ("…" if len(message["content"]) > 60 else ""))
                rows.append(f"<tr><td>{html.escape(t.label)}</td><td>{m}</td><td>{html.escape(str(message['role']))}"
                            f"</td><td>{preview}</td><td>{best}</td></tr>")
        table = ("<table><tr><th>text</th><th>message</th><th>role</th><th>content</th>"
                 "<th>top emotions (mean z)</th></tr>" + "".join(rows) + "</table>")
        return head + table
