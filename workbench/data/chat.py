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


def _content_spans(text: str, messages: Sequence[dict], row) -> list[tuple[int, int]]:
    """Character span of each message's content in the rendered text, found in order."""
    spans, cursor = [], 0
    for k, message in enumerate(messages):
        content = message["content"]
        for candidate in (content, content.strip()):
            at = text.find(candidate, cursor) if candidate else -1
            if at >= 0:
                spans.append((at, at + len(candidate)))
                cursor = at + len(candidate)
                break
        else:
            raise InputError(f"transcript {row}, message {k} ({message['role']}): "
                             + ("shorter than one token after the chat template (its content is empty)"
                                if not content.strip() else
                                "its content does not appear in the text the chat template rendered "
                                "(a template that rewrites content cannot be mapped to tokens)"))
    return spans


def render_chat(tokenizer, messages, *, row: int | str = 0, chat_template: str | None = None,
                add_generation_prompt: bool = False) -> ChatTokens:
    """Render ``messages`` with the chat template; return ids and each token's message and role.

    The rendered text is tokenized without adding special tokens (the template
    writes its own, as ``apply_chat_template`` does). A message whose content
    gets no token is an error naming the row and the message.
    """
    messages = check_messages(messages, row)
    template = _template(tokenizer, chat_template)
    text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    spans = _content_spans(text, messages, row)
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
