"""Tiny offline tokenizers and random models built from real configs, for tests."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]


def tiny_tokenizer(add_bos: bool = True, chat_template: str | None = None) -> PreTrainedTokenizerFast:
    """A byte-free word/character tokenizer: lowercase words of a small vocabulary, else characters."""
    words = ("the a an and of to in on at is was it he she they i we you his her my our their that this "
             "with for from as but not no be had have has day night house room door window hand face eyes "
             "water light dark cold warm long time old new man woman child friend mother father").split()
    chars = list(string.ascii_letters + string.digits + string.punctuation)
    vocab = {tok: i for i, tok in enumerate(SPECIALS + words + [c for c in chars if c not in words])}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="<unk>", max_input_chars_per_word=100,
                                     continuing_subword_prefix=""))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", vocab["<bos>"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def tiny_llama(vocab_size: int, seed: int = 0, n_layers: int = 3):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=n_layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0, attn_implementation="eager")
    return LlamaForCausalLM(cfg).eval()


def _gemma4_text_config(vocab_size: int):
    from transformers import Gemma4TextConfig

    return Gemma4TextConfig(
        vocab_size=vocab_size, vocab_size_per_layer_input=vocab_size, hidden_size=64, intermediate_size=128,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16, global_head_dim=16,
        hidden_size_per_layer_input=8, num_kv_shared_layers=2, sliding_window=16,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def tiny_model(kind: str, vocab_size: int, seed: int = 0):
    """A tiny random causal LM built from the real config class of ``kind``."""
    import transformers as tf

    torch.manual_seed(seed)
    ids = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
    if kind == "llama":
        return tiny_llama(vocab_size, seed)
    if kind == "apertus":
        cfg = tf.ApertusConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, **ids)
        model = tf.ApertusForCausalLM(cfg)
    elif kind == "gemma3":
        cfg = tf.Gemma3TextConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                  num_attention_heads=4, num_key_value_heads=1, head_dim=16, sliding_window=16,
                                  layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                                  max_position_embeddings=512, **ids)
        model = tf.Gemma3ForCausalLM(cfg)
    elif kind == "gemma4_text":
        model = tf.Gemma4ForCausalLM(_gemma4_text_config(vocab_size))
    elif kind == "gemma4":
        cfg = tf.Gemma4Config(text_config=_gemma4_text_config(vocab_size).to_dict(),
                              vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                             "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 16})
        model = tf.Gemma4ForConditionalGeneration(cfg)
    else:
        raise ValueError(kind)
    model.config.architectures = [type(model).__name__]
    model.set_attn_implementation("eager")  # the attention every backend runs (TransformerLens forces it)
    return model.eval()


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def tiny_chat_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny tokenizer with ChatML's turn markers as special tokens and the ChatML template."""
    tok = tiny_tokenizer(chat_template=CHATML)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tok


def model_folder(path: Path, model, tokenizer) -> Path:
    """``model`` and ``tokenizer`` saved as a model folder at ``path`` (what ``load_model(path)`` reads)."""
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def bogus_gguf(path: Path, arch: str = "bogusarch") -> Path:
    """A GGUF file of architecture ``arch`` holding one embedding tensor and no tokenizer."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and the CPU is shared (a module imports it with autouse)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
