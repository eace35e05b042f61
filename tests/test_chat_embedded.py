"""Chat spans under the real templates of both embedded models, against hand tokenization (slow)."""

from __future__ import annotations

import pytest
from test_chat import hand_tokenized

from workbench.data.chat import render_chat

pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "user", "content": "My cat has been missing for three days."},
    {"role": "assistant", "content": "I'm so sorry. Have you checked with your neighbours?"},
    {"role": "user", "content": "Yes, and she just came home!"},
    {"role": "assistant", "content": "That's wonderful news, I'm glad she is safe."},
]
SMOL_SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


def smollm_pieces(message):
    first = [(SMOL_SYSTEM, False)] if message is MESSAGES[0] else []
    return first + [("<|im_start|>" + message["role"] + "\n", False), (message["content"], True),
                    ("<|im_end|>\n", False)]


def gemma_pieces(message):
    role = "model" if message["role"] == "assistant" else message["role"]
    first = [("<bos>", False)] if message is MESSAGES[0] else []
    return first + [("<start_of_turn>" + role + "\n", False), (message["content"], True),
                    ("<end_of_turn>\n", False)]


@pytest.mark.parametrize(("fixture", "pieces"), [("smollm2", smollm_pieces), ("embedded", gemma_pieces)])
def test_spans_equal_hand_tokenization(request, fixture, pieces):
    tok = request.getfixturevalue(fixture).tokenizer
    chat = render_chat(tok, MESSAGES)
    ids, where = hand_tokenized(tok, MESSAGES, pieces)
    assert list(chat.ids) == ids
    assert list(chat.span("assistant")) == where["assistant"]
    assert list(chat.span("user")) == where["user"]
    assert tok.decode([chat.ids[i] for i in chat.span("assistant")]) == MESSAGES[1]["content"] + MESSAGES[3]["content"]
