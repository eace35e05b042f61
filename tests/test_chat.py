"""Chat transcripts: exact token spans per message, span pooling in collect, padding-side invariance."""

from __future__ import annotations

import pytest
import torch
from tiny import CHATML, tiny_chat_tokenizer, tiny_llama

from workbench.collect import collect
from workbench.data.chat import as_assistant_turn, render_chat
from workbench.errors import InputError
from workbench.models import adapter_from_hf

TRANSCRIPT = [
    {"role": "system", "content": "you are a friend"},
    {"role": "user", "content": "my dog was lost for a long time"},
    {"role": "assistant", "content": "that is hard, I am with you."},
    {"role": "user", "content": "he is back at the house!"},
    {"role": "assistant", "content": "what a warm day for you and him"},
]


def hand_tokenized(tok, messages, pieces):
    """Ids built piece by piece (``pieces(message) -> [(text, is_content)]``) and the positions of each
    role's content, with no offsets involved."""
    ids, where = [], {"assistant": [], "user": [], "system": []}
    for message in messages:
        for text, is_content in pieces(message):
            part = tok(text, add_special_tokens=False).input_ids
            if is_content:
                where[message["role"]] += range(len(ids), len(ids) + len(part))
            ids += part
    return ids, where


def chatml_pieces(message):
    return [("<|im_start|>" + message["role"] + "\n", False), (message["content"], True), ("<|im_end|>\n", False)]


@pytest.fixture(scope="module")
def chat_adapter():
    tok = tiny_chat_tokenizer()
    return adapter_from_hf(tiny_llama(len(tok), n_layers=3), tok, name="tiny-chat", backend="nnsight")


def test_spans_equal_hand_tokenization_tiny_chatml():
    tok = tiny_chat_tokenizer()
    chat = render_chat(tok, TRANSCRIPT)
    ids, where = hand_tokenized(tok, TRANSCRIPT, chatml_pieces)
    assert list(chat.ids) == ids
    assert list(chat.span("assistant")) == where["assistant"]
    assert list(chat.span("user")) == where["user"]
    assert list(chat.span("all")) == sorted(where["assistant"] + where["user"] + where["system"])
    assert len(where["assistant"]) > 10  # both assistant turns, not one token
    assert [chat.message[i] for i in where["assistant"]].count(4) > 0
    assert {chat.roles[i] for i in range(len(chat)) if chat.message[i] == -1} == {None}


def _hidden(adapter, ids, layer):
    """HF's hidden state after block ``layer`` (not the last block: HF applies the final norm to that one)."""
    assert layer < adapter.n_layers - 1
    enc = torch.tensor([ids])
    with torch.no_grad():
        out = adapter.hf_model(enc, attention_mask=torch.ones_like(enc), output_hidden_states=True)
    return out.hidden_states[layer + 1][0]


@pytest.mark.parametrize("positions", ["assistant", "user", "all"])
def test_collect_pools_the_span(chat_adapter, positions):
    tok = chat_adapter.tokenizer
    short = TRANSCRIPT[1:3]
    acts = collect(chat_adapter, [TRANSCRIPT, short], positions=positions, token_offset=0, layers=[0, 1],
                   progress=False)
    for row, messages in enumerate([TRANSCRIPT, short]):
        chat = render_chat(tok, messages)
        span = list(chat.span(positions))
        for j, layer in enumerate(acts.layers):
            expected = _hidden(chat_adapter, list(chat.ids), layer)[span].mean(0)
            torch.testing.assert_close(acts.means[row, j], expected, rtol=1e-5, atol=1e-5)
        assert acts.n_tokens[row] == len(span)
    assert acts.params["positions"] == positions and acts.params["read_as"] == "raw"


def test_left_and_right_padding_agree(chat_adapter):
    texts = [TRANSCRIPT, TRANSCRIPT[1:3], [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "the"}]]
    right = collect(chat_adapter, texts, token_offset=0, padding_side="right", progress=False)
    left = collect(chat_adapter, texts, token_offset=0, padding_side="left", progress=False)
    torch.testing.assert_close(left.means, right.means, rtol=1e-5, atol=1e-5)
    assert torch.equal(left.n_tokens, right.n_tokens)


def test_token_offset_counts_span_tokens(chat_adapter):
    chat = render_chat(chat_adapter.tokenizer, TRANSCRIPT)
    span = list(chat.span("assistant"))
    acts = collect(chat_adapter, [TRANSCRIPT], token_offset=3, layers=[1], progress=False)
    expected = _hidden(chat_adapter, list(chat.ids), 1)[span[3:]].mean(0)
    torch.testing.assert_close(acts.means[0, 0], expected, rtol=1e-5, atol=1e-5)


def test_read_as_assistant_places_stories_in_the_reply(chat_adapter):
    story = "the old man and the child opened the door of the house at night"
    acts = collect(chat_adapter, [story], read_as="assistant", token_offset=0, layers=[1], progress=False)
    by_hand = collect(chat_adapter, [as_assistant_turn(story)], token_offset=0, layers=[1], progress=False)
    raw = collect(chat_adapter, [story], token_offset=1, layers=[1], progress=False)
    torch.testing.assert_close(acts.means, by_hand.means, rtol=0, atol=0)
    assert (acts.means - raw.means).abs().max() > 1e-3  # the template changes what the tokens carry
    assert acts.params["read_as"] == "assistant" and acts.params["chat_prompt"]
    assert raw.params["read_as"] == "raw" and raw.params["positions"] is None
    assert acts.params["key"] != raw.params["key"]


def test_template_passed_explicitly():
    from tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    with pytest.raises(InputError, match="has no chat template"):
        render_chat(tok, TRANSCRIPT)
    assert render_chat(tok, TRANSCRIPT, chat_template=CHATML).ids == render_chat(tiny_chat_tokenizer(), TRANSCRIPT).ids


@pytest.mark.parametrize(("messages", "match"), [
    ([{"role": "user", "content": "the day"}, {"role": "robot", "content": "a"}],
     r"transcript 0, message 1: unknown role 'robot'"),
    ([{"role": "user", "content": "the day"}], r"transcript 0: the assistant span is empty"),
    ([{"role": "user", "content": "the day"}, {"role": "assistant", "content": "  "}],
     r"transcript 0, message 1 \(assistant\): shorter than one token after the chat template"),
    ([{"role": "user"}], r"transcript 0, message 0: expected an object with 'role' and 'content'"),
])
def test_bad_transcripts_name_the_row(chat_adapter, messages, match):
    with pytest.raises(InputError, match=match):
        collect(chat_adapter, [messages], token_offset=0, progress=False)


def test_positions_need_transcripts(chat_adapter):
    with pytest.raises(InputError, match="text 0 is a plain text: positions='assistant' needs chat transcripts"):
        collect(chat_adapter, ["the day"], positions="assistant", token_offset=0, progress=False)


def test_content_that_also_occurs_in_the_template_is_not_mistaken_for_it():
    """A user message "user" (also in the role header) and an assistant message that repeats the
    default system prompt's words: the spans are the contents, not the template's text."""
    template = ("{{ '<|im_start|>system\\na friend<|im_end|>\\n' }}{% for m in messages %}{{ '<|im_start|>' + "
                "m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}")
    tok = tiny_chat_tokenizer()
    messages = [{"role": "user", "content": "user"}, {"role": "assistant", "content": "a friend"}]
    chat = render_chat(tok, messages, chat_template=template)
    system = [("<|im_start|>system\na friend<|im_end|>\n", False)]
    ids, where = hand_tokenized(tok, messages, lambda m: (system if m is messages[0] else []) + chatml_pieces(m))
    assert list(chat.ids) == ids
    assert list(chat.span("user")) == where["user"] and list(chat.span("assistant")) == where["assistant"]


def test_a_template_that_rewrites_content_is_refused():
    tok = tiny_chat_tokenizer()
    upper = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] | replace('a', 'A') }}{% endfor %}"
    with pytest.raises(InputError, match="rewrites message content"):
        render_chat(tok, TRANSCRIPT[1:3], chat_template=upper)


def test_max_length_cuts_the_span(chat_adapter):
    chat = render_chat(chat_adapter.tokenizer, TRANSCRIPT)
    span = list(chat.span("assistant"))
    cut = span[4] + 1  # the first assistant turn's first five tokens survive, the second turn is cut off
    acts = collect(chat_adapter, [TRANSCRIPT], token_offset=0, max_length=cut, layers=[1], progress=False)
    expected = _hidden(chat_adapter, list(chat.ids[:cut]), 1)[span[:5]].mean(0)
    torch.testing.assert_close(acts.means[0, 0], expected, rtol=1e-5, atol=1e-5)
    assert acts.n_tokens[0] == 5 and acts.info["truncated"] == [0]
