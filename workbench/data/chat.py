"""Chat transcripts: render messages with the tokenizer's chat template, and know each token's message.

A transcript is a list of ``{"role", "content"}`` messages. :func:`render_chat`
renders it with the tokenizer's chat template, tokenizes the rendered text with
character offsets, and maps every token to the message whose content it
overlaps (``-1`` for the template's own tokens: role headers, turn markers, a
default system prompt). Spans are found from offsets in the rendered string, so
they are exact for any template that writes each message's content verbatim
(or trimmed), whatever tokens it puts around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.errors import InputError

__all__ = ["ROLES", "POSITIONS", "ChatTokens", "render_chat", "check_messages", "is_transcript",
           "as_assistant_turn", "STORY_PROMPT"]

ROLES = ("system", "user", "assistant")
POSITIONS = ("assistant", "user", "all")  # which messages' content tokens a span covers ("all": every message)
STORY_PROMPT = "Please write a short story."  # the user turn before a story read in an assistant turn


def is_transcript(item) -> bool:
    """A list of messages (dicts), as opposed to a plain text."""
    return isinstance(item, (list, tuple)) and all(isinstance(m, dict) for m in item) and len(item) > 0


def as_assistant_turn(text: str, prompt: str = STORY_PROMPT) -> list[dict]:
    """A text placed as the assistant's reply to ``prompt``."""
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": text}]


def check_messages(messages, row: int | str = 0) -> list[dict]:
    """The messages as plain dicts; an unknown role, a missing field or an empty list names the row."""
    where = f"transcript {row}"
    if not isinstance(messages, (list, tuple)) or not messages:
        raise InputError(f"{where}: expected a non-empty list of {{'role', 'content'}} messages, got {messages!r:.80}")
    out = []
    for k, message in enumerate(messages):
        if not isinstance(message, dict) or not {"role", "content"} <= set(message):
            raise InputError(f"{where}, message {k}: expected an object with 'role' and 'content', got {message!r:.80}")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise InputError(f"{where}, message {k}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise InputError(f"{where}, message {k} ({role}): content is a {type(content).__name__}, not a string")
        out.append({"role": role, "content": content})
    return out


@dataclass(frozen=True)
class ChatTokens:
    """A rendered transcript: token ids, and per token the message index (``-1``: template) and role."""

    text: str
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    message: tuple[int, ...]
    roles: tuple[str | None, ...]
    messages: tuple[dict, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def span(self, positions: str = "assistant") -> tuple[int, ...]:
        """Token positions of the content of the messages ``positions`` selects (see :data:`POSITIONS`)."""
        if positions not in POSITIONS:
            raise InputError(f"positions must be one of {list(POSITIONS)}, got {positions!r}")
        if positions == "all":
            return tuple(i for i, m in enumerate(self.message) if m >= 0)
        return tuple(i for i, r in enumerate(self.roles) if r == positions)


def _template(tokenizer, chat_template: str | None) -> str:
    template = chat_template if chat_template is not None else getattr(tokenizer, "chat_template", None)
    if not template:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise InputError(f"tokenizer {name} has no chat template: pass chat_template= (a Jinja template) "
                         "or read the texts raw")
    return template


def _mark(k: int) -> str:
    return f"\x02{k}\x03"  # control characters no template filter touches (not whitespace: trim keeps them)


def _content_spans(text: str, marked: str, messages: Sequence[dict], row) -> list[tuple[int, int]]:
    """Character span of each message's content in ``text``, the template's rendering of ``messages``.

    ``marked`` is the rendering with each content replaced by a marker: the template's own text
    is what lies between the markers, so the content spans are exact (a content that also occurs in
    the template's text, e.g. in a default system prompt, cannot be mistaken for it). The template
    may write content verbatim or trimmed; anything else is refused.
    """
    pieces, cursor = [], 0
    for k in range(len(messages)):
        at = marked.find(_mark(k), cursor)
        if at < 0 or marked.count(_mark(k)) != 1:
            raise InputError(f"transcript {row}, message {k} ({messages[k]['role']}): the chat template does not "
                             "write this message's content once, in order (its tokens cannot be mapped)")
        pieces.append(marked[cursor:at])
        cursor = at + len(_mark(k))
    pieces.append(marked[cursor:])
    for contents in ([m["content"] for m in messages], [m["content"].strip() for m in messages]):
        spans, pos, rebuilt = [], 0, []
        for piece, content in zip(pieces, contents):
            pos += len(piece)
            spans.append((pos, pos + len(content)))
            pos += len(content)
            rebuilt += [piece, content]
        if "".join(rebuilt) + pieces[-1] == text:
            for k, (a, b) in enumerate(spans):
                if a == b:
                    raise InputError(f"transcript {row}, message {k} ({messages[k]['role']}): shorter than one "
                                     "token after the chat template (its content is empty)")
            return spans
    raise InputError(f"transcript {row}: the chat template rewrites message content (not verbatim, not trimmed), "
                     "so its tokens cannot be mapped to messages")


def render_chat(tokenizer, messages, *, row: int | str = 0, chat_template: str | None = None,
                add_generation_prompt: bool = False) -> ChatTokens:
    """Render ``messages`` with the chat template; return ids and each token's message and role.

    The rendered text is tokenized without adding special tokens (the template
    writes its own, as ``apply_chat_template`` does). A message whose content
    gets no token is an error naming the row and the message.
    """
    messages = check_messages(messages, row)
    template = _template(tokenizer, chat_template)
    text, marked = (tokenizer.apply_chat_template(m, chat_template=template, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)
                    for m in (messages, [{**m, "content": _mark(k)} for k, m in enumerate(messages)]))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    spans = _content_spans(text, marked, messages, row)
    owner = [-1] * len(ids)
    for k, (start, end) in enumerate(spans):
        hit = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
        if not hit:
            raise InputError(f"transcript {row}, message {k} ({messages[k]['role']}): shorter than one token "
                             "after the chat template")
        for i in hit:
            owner[i] = k
    roles = tuple(messages[k]["role"] if k >= 0 else None for k in owner)
    return ChatTokens(text, tuple(ids), tuple(offsets), tuple(owner), roles, tuple(messages))
