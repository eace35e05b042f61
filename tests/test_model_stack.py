"""The model stack's import (collector paused, then frozen) and the compact tokenizer file."""

from __future__ import annotations

import gc
import json
import sys

from tokenizers import Tokenizer, models, pre_tokenizers

from workbench.models import stack
from workbench.models.embedded import COMPACT_TOKENIZER, compact_tokenizer_file


def _probe_modules(tmp_path, monkeypatch, name: str) -> None:
    """A module for import_model_stack to import, recording whether the collector ran during its import."""
    (tmp_path / f"{name}.py").write_text("import gc\nCOLLECTOR_ON = gc.isenabled()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(stack, "_MODULES", (name,))


def test_import_model_stack_pauses_the_collector_and_freezes_what_it_imported(tmp_path, monkeypatch):
    _probe_modules(tmp_path, monkeypatch, "stack_probe_a")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        stack.import_model_stack()
        assert sys.modules["stack_probe_a"].COLLECTOR_ON is False
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_import_model_stack_leaves_the_collector_alone_when_asked(tmp_path, monkeypatch):
    _probe_modules(tmp_path, monkeypatch, "stack_probe_b")
    monkeypatch.setenv("WORKBENCH_GC_FREEZE", "0")
    stack.import_model_stack()
    assert sys.modules["stack_probe_b"].COLLECTOR_ON is True and gc.get_freeze_count() == 0
    monkeypatch.delenv("WORKBENCH_GC_FREEZE")
    _probe_modules(tmp_path, monkeypatch, "stack_probe_c")
    gc.disable()  # the caller's choice is kept
    try:
        stack.import_model_stack()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
    assert "stack_probe_c" in sys.modules


def _bpe(merges: list[tuple[str, str]]) -> Tokenizer:
    vocab = {}
    for token in ["[UNK]", *"abcdxy ", *(a + b for a, b in merges)]:
        vocab.setdefault(token, len(vocab))
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<bos>"])
    return tok


def test_compact_tokenizer_file_is_the_same_tokenizer(tmp_path):
    merges = [("a", "b"), ("ab", "c"), ("x", "y"), ("abc", "d"), ("c", "d")]
    _bpe(merges).save(str(tmp_path / "tokenizer.json"), pretty=True)
    assert isinstance(json.loads((tmp_path / "tokenizer.json").read_text())["model"]["merges"][0], list)
    path = compact_tokenizer_file(tmp_path)
    assert path == tmp_path / COMPACT_TOKENIZER
    data = json.loads(path.read_text())
    assert data["model"]["merges"] == [f"{a} {b}" for a, b in merges]
    original, compact = Tokenizer.from_file(str(tmp_path / "tokenizer.json")), Tokenizer.from_file(str(path))
    texts = ["abcd xy abd", "cdab <bos> xyz", "dcba ab c d", "aabbccdd"]
    assert [compact.encode(t).ids for t in texts] == [original.encode(t).ids for t in texts]
    assert compact.encode("abcd").tokens == ["abcd"]  # the merges are applied, in their order
    assert compact.get_vocab(with_added_tokens=True) == original.get_vocab(with_added_tokens=True)
    (tmp_path / "tokenizer.json").unlink()
    assert compact_tokenizer_file(tmp_path) == path  # made once, then read as it is


def test_a_merge_with_a_space_keeps_the_original_file(tmp_path):
    source = tmp_path / "tokenizer.json"
    _bpe([("a", "b")]).save(str(source))
    data = json.loads(source.read_text())
    data["model"]["merges"].append(["a ", "b"])  # ambiguous as the string "a  b"
    source.write_text(json.dumps(data))
    assert compact_tokenizer_file(tmp_path) == source
    assert not (tmp_path / COMPACT_TOKENIZER).exists()
