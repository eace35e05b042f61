"""Story generation: splitting responses, regeneration of stories that name the emotion, batching with left
padding, resuming after kill -9 without duplicate rows, and the CLI."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny import one_thread, tiny_llama, tiny_tokenizer  # noqa: F401 (one_thread: a fixture)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from workbench.cli import main
from workbench.data.corpus import load_corpus
from workbench.data.generate import (
    GenerationConfig,
    generate_stories,
    load_topics,
    split_stories,
    story_prompt,
)
from workbench.data.validate import validate
from workbench.errors import InputError

REPO = Path(__file__).resolve().parents[1]


class Adapter:
    def __init__(self, hf_model, tokenizer):
        self.hf_model, self.tokenizer = hf_model, tokenizer


def tiny_adapter(seed=0, scale=10.0):
    """A tiny random Llama; weights scaled up so that what it writes depends on the prompt."""
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok), seed=seed, n_layers=2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.mul_(scale)
    return Adapter(model, tok)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run fastest on one thread


def read_rows(path):
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------- split_stories

@pytest.mark.parametrize("response,expected", [
    ("[story 1]\nA b.\n\n[story 2]\nC d.\nE f.", ["A b.", "C d.\nE f."]),
    ("Sure! Here they are.\n\n[Story 1] A b. [Story 2] C d.", ["A b.", "C d."]),
    ("**Story 1: The Lake**\nA b.\n\n**Story 2: Hills**\nC d.", ["A b.", "C d."]),
    ("**Story 1**\nA b.\n\n---\n\n**Story 2**\nC d.\n\n---", ["A b.", "C d."]),
    ("## Story One\nA b.\n## Story Two: Title\nC d.", ["A b.", "C d."]),
    ("Story 1: A b.\nStory 2 - C d.", ["A b.", "C d."]),
    ("1. A b.\n2. C d.\n3. E f.", ["A b.", "C d."]),
    ("Stories:\n1) A b.\n\n2) C d.", ["A b.", "C d."]),
    ("A story without any heading at all.", []),
    ("[story 1]\n\n[story 2]\nC d.", ["C d."]),
])
def test_split_stories_variants(response, expected):
    assert split_stories(response, 2) == expected


def test_split_stories_keeps_headings_one_to_expected_first_non_empty_each():
    echoed = "[story 1], [story 2], [story 3]\n\n[story 1]\nA b.\n\n[story 2]\nC d.\n[story 3]\nE f."
    assert split_stories(echoed, 2) == ["A b.", "C d."]
    assert split_stories("[story 1]\nA b.\n[story 13]\n[story 14]\nLeftover text.", 3) == ["A b."]
    assert split_stories("[story 2]\nSecond.\n[story 1]\nFirst.", 2) == ["First.", "Second."]


def test_stop_criterion_ends_each_row_at_the_next_heading():
    from workbench.data.generate import _StopAtHeading

    tok = byte_tokenizer()
    prompt = tok("Write [story 1] [story 2] [story 3] now.", add_special_tokens=False)["input_ids"]
    rows = ["[story 1]\nOne.\n[story 2]\nTwo.\n[Story 3]", "[story 1]\nOne.\n[story 2]\nTwo, still going"]
    new = [tok(r, add_special_tokens=False)["input_ids"] for r in rows]
    width = max(map(len, new))
    ids = torch.tensor([prompt + x + [0] * (width - len(x)) for x in new])
    assert _StopAtHeading(tok, len(prompt), 2, every=1)(ids, None).tolist() == [True, False]
    assert _StopAtHeading(tok, len(prompt), 3, every=1)(ids, None).tolist() == [False, False]
    n_new = ids.shape[1] - len(prompt)  # checked only every `every` new tokens
    assert _StopAtHeading(tok, len(prompt), 2, every=n_new)(ids, None).tolist() == [True, False]
    assert _StopAtHeading(tok, len(prompt), 2, every=n_new + 1)(ids, None).tolist() == [False, False]


def test_split_stories_single_and_bounds():
    assert split_stories("  Just one story.  ", 1) == ["Just one story."]
    assert split_stories("[story 1]\nOne.\n[story 2]\nTwo.", 1) == ["One."]
    assert split_stories("1. A numbered line inside a story.", 2) == []  # one numbered line is not a list
    with pytest.raises(ValueError):
        split_stories("x", 0)


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9).filter(lambda w: w != "story")
_PARAGRAPH = st.lists(_WORD, min_size=1, max_size=12).map(lambda ws: " ".join(ws).capitalize() + ".")
_STORY = st.lists(_PARAGRAPH, min_size=1, max_size=3).map("\n\n".join)
_NUMBERS = ("One", "Two", "Three", "Four", "Five")
_STYLES = {
    "bracket": lambda i, s: f"[story {i}]\n{s}",
    "bracket_inline": lambda i, s: f"[Story {i}] {s}",
    "colon": lambda i, s: f"Story {i}:\n{s}",
    "bold": lambda i, s: f"**Story {i}**\n{s}",
    "bold_title": lambda i, s: f"**Story {i}: A Title Here**\n{s}",
    "heading_word": lambda i, s: f"## Story {_NUMBERS[i - 1]}\n{s}",
    "numbered": lambda i, s: f"{i}. {s}",
}


@settings(max_examples=80, deadline=None)
@given(st.lists(_STORY, min_size=1, max_size=5), st.sampled_from(sorted(_STYLES)),
       st.sampled_from(["\n\n", "\n\n---\n\n", "\n"]), st.booleans())
def test_split_stories_recovers_what_was_formatted(stories, style, sep, preamble):
    if style == "numbered" and len(stories) == 1:
        stories = stories + stories[:1]  # a list needs two items
    text = sep.join(_STYLES[style](i, s) for i, s in enumerate(stories, 1))
    if preamble:
        text = "Here are the stories you asked for:\n\n" + text
    assert split_stories(text, len(stories)) == stories
    assert split_stories(text, len(stories) + 2) == stories
    assert split_stories(text, 1) == stories[:1]


def test_story_prompt_asks_for_headed_stories_without_the_word():
    p = story_prompt("envious", "A ferry is delayed", 3)
    assert "[story 1]" in p and "[story 3]" in p and "[story 4]" not in p
    assert "feels envious" in p and "Never write the word 'envious'" in p and "A ferry is delayed" in p
    assert story_prompt("calm", "x", 1).startswith("Write 1 short story of")


def test_topics_file_is_thirty_unique_premises(tmp_path):
    topics = load_topics()
    assert len(topics) == 30 and len(set(topics)) == 30
    (tmp_path / "t.txt").write_text("# comment\nA\n\nB\nA\n")
    with pytest.raises(InputError, match="line 5: same topic as line 2"):
        load_topics(tmp_path / "t.txt")


# ---------------------------------------------------------------- scripted model: exact text in, text out

def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A lossless byte-level tokenizer (no merges), so a scripted model can read prompts and write responses."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {t: i for i, t in enumerate(["<pad>", "<bos>", "<eos>"] + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


class ScriptedLM(torch.nn.Module):
    """Answers each prompt with ``script(emotion, n_requested, call_number)``; records what it was given."""

    def __init__(self, tokenizer, script):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.tok, self.script, self.calls, self.kwargs, self.masks = tokenizer, script, {}, [], []

    def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, **kw):
        self.kwargs.append({"max_new_tokens": max_new_tokens, **kw})
        self.masks.append(attention_mask.clone())
        outs = []
        for ids, mask in zip(input_ids, attention_mask):
            prompt = self.tok.decode(ids[mask.bool()])
            emotion = re.search(r"a character feels (.+?)\.", prompt).group(1)
            n = int(re.search(r"Write (\d+) short", prompt).group(1))
            key = (emotion, n)
            self.calls[key] = self.calls.get(key, 0) + 1
            outs.append(self.tok(self.script(emotion, n, self.calls[key]), add_special_tokens=False)["input_ids"])
        width = max(len(o) for o in outs)
        new = torch.full((len(outs), width), pad_token_id)
        for i, o in enumerate(outs):
            new[i, : len(o)] = torch.tensor(o)
        return torch.cat([input_ids, new], dim=1)


def script(emotion, n, call):
    if emotion == "calm":
        if n == 2:
            return "[story 1]\nA quiet lake at dawn.\n\n[story 2]\nShe stayed calm."
        return "[story 1]\nThe calm returned." if call == 1 else "[story 1]\nThe water lay flat."
    if emotion == "bored":
        return "[story 1]\nToo short.\n[story 2]\nThe clock ticked on." if n == 2 else "Nothing moved all day."
    if n == 2:
        return "Here is one.\n[story 1]\nRain on the roof."
    return "He was sad."


def test_regenerates_stories_that_name_the_emotion_then_records_the_failure(tmp_path):
    tok = byte_tokenizer()
    model = Adapter(ScriptedLM(tok, script), tok)
    out = tmp_path / "c.jsonl"
    cfg = GenerationConfig(batch_size=2, tokens_per_story=40, temperature=0.7, top_p=0.9, max_tries=3, min_words=3)
    result = generate_stories(model, ["calm", "sad", "bored"], ["A lake"], 2, out, seed=5, config=cfg,
                              model_name="scripted")
    calm, sad, bored = read_rows(out)
    assert calm["stories"] == ["A quiet lake at dawn.", "The water lay flat."]
    assert calm["attempts"] == [1, 3] and calm["failed"] == [] and calm["n_stories_parsed"] == 2
    assert sad["stories"] == ["Rain on the roof."] and sad["attempts"] == [1, 3] and sad["n_stories_parsed"] == 1
    assert sad["failed"] == [{"story": 2, "attempts": 3, "reason": "names the emotion: sad",
                              "last_text": "He was sad."}]
    assert bored["stories"] == ["Nothing moved all day.", "The clock ticked on."] and bored["attempts"] == [2, 1]
    assert calm["prompt"] == story_prompt("calm", "A lake", 2) and calm["model"] == "scripted"
    assert calm["sampling"]["temperature"] == 0.7 and calm["sampling"]["top_p"] == 0.9
    assert calm["sampling"]["chat_template"] is False and isinstance(calm["sampling"]["seed"], int)
    assert model.hf_model.calls == {("calm", 2): 1, ("sad", 2): 1, ("bored", 2): 1, ("calm", 1): 2, ("sad", 1): 2,
                                    ("bored", 1): 1}
    assert all(k["do_sample"] and k["temperature"] == 0.7 and k["top_p"] == 0.9 for k in model.hf_model.kwargs)
    assert model.hf_model.kwargs[0]["max_new_tokens"] == 2 * 40 + 16
    for mask in model.hf_model.masks:  # left padding: every row is 0...0 1...1
        assert torch.equal(mask, torch.sort(mask, dim=1).values) and bool(mask[:, -1].all())
    assert (result.rows_written, result.stories_written, result.stories_failed) == (3, 5, 1)
    corpus = load_corpus(out)
    assert corpus.texts == ("A quiet lake at dawn.", "The water lay flat.", "Rain on the roof.",
                            "Nothing moved all day.", "The clock ticked on.")
    assert not [p for p in validate(corpus, None).problems if p.kind == "names_emotion"]


def test_chat_template_is_used_when_the_tokenizer_has_one(tmp_path):
    tok = byte_tokenizer()
    tok.chat_template = ("{% for m in messages %}<bos>USER: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}MODEL:{% endif %}")
    lm = ScriptedLM(tok, lambda e, n, c: "[story 1]\nWaves.")
    generate_stories(Adapter(lm, tok), ["calm"], ["A lake"], 1, tmp_path / "c.jsonl",
                     config=GenerationConfig(temperature=0, min_words=1))
    row = read_rows(tmp_path / "c.jsonl")[0]
    assert row["sampling"]["chat_template"] is True and row["stories"] == ["Waves."]
    stop = lm.kwargs[0].pop("stopping_criteria")
    assert lm.kwargs[0] == {"max_new_tokens": 320 + 16, "do_sample": False} and len(stop) == 1
    with pytest.raises(InputError, match="has no chat template"):
        generate_stories(Adapter(lm, byte_tokenizer()), ["calm"], ["A lake"], 1, tmp_path / "d.jsonl",
                         config=GenerationConfig(chat_template=True))


# ---------------------------------------------------------------- a real (tiny, random) Llama

def test_tiny_llama_batched_left_padding_matches_one_by_one(tmp_path):
    model = tiny_adapter()
    emotions, topics = ["calm", "sad", "bored"], ["A lake", "A long night at the station"]
    cfg = dict(tokens_per_story=12, temperature=0, min_words=0)
    one = generate_stories(model, emotions, topics, 1, tmp_path / "one.jsonl", config=GenerationConfig(
        batch_size=1, **cfg))
    many = generate_stories(model, emotions, topics, 1, tmp_path / "many.jsonl", config=GenerationConfig(
        batch_size=4, **cfg))
    a, b = read_rows(tmp_path / "one.jsonl"), read_rows(tmp_path / "many.jsonl")
    assert [(r["emotion"], r["topic"]) for r in a] == [(e, t) for e in emotions for t in topics]
    assert [r["raw_response"] for r in a] == [r["raw_response"] for r in b]
    assert len({r["raw_response"] for r in a}) > 1  # prompts of different lengths, different answers
    assert one.rows_written == many.rows_written == 6
    assert len(load_corpus(tmp_path / "many.jsonl")) == sum(len(r["stories"]) for r in b)
    again = generate_stories(model, emotions, topics, 1, tmp_path / "many.jsonl", config=GenerationConfig(**cfg))
    assert (again.rows_written, again.rows_skipped) == (0, 6) and read_rows(tmp_path / "many.jsonl") == b


def test_torn_last_line_is_repaired_and_bad_files_are_refused(tmp_path, caplog):
    model = tiny_adapter()
    cfg = GenerationConfig(tokens_per_story=8, min_words=0)
    out = tmp_path / "c.jsonl"
    generate_stories(model, ["calm"], ["A lake"], 1, out, config=cfg)
    first = out.read_text()
    out.write_text(first + '{"emotion": "sad", "topic": "A la')  # what kill -9 mid-write could leave
    generate_stories(model, ["calm", "sad"], ["A lake"], 1, out, config=cfg)
    rows = read_rows(out)
    assert out.read_text().startswith(first) and [r["emotion"] for r in rows] == ["calm", "sad"]
    assert "unfinished last line" in caplog.text
    bad = tmp_path / "bad.jsonl"
    bad.write_text(first + "not json\n" + first)
    with pytest.raises(InputError, match=r"bad\.jsonl, line 2: not a story row"):
        generate_stories(model, ["calm"], ["A lake"], 1, bad, config=cfg)
    with open(out, "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match="being written by another generate run"):
            generate_stories(model, ["bored"], ["A lake"], 1, out, config=cfg)


@pytest.mark.parametrize("kwargs,match", [
    ({"emotions": []}, "emotions must be a non-empty list"),
    ({"emotions": ["calm", "calm"]}, r"emotions listed twice: \['calm'\]"),
    ({"topics": ["", "x"]}, "topics must be a non-empty list"),
    ({"stories_per_topic": 0}, "stories_per_topic must be >= 1"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = {"emotions": ["calm"], "topics": ["A lake"], "stories_per_topic": 1, **kwargs}
    with pytest.raises(InputError, match=match):
        generate_stories(tiny_adapter(), out_path=tmp_path / "c.jsonl", **args)


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("tokens_per_story", 0), ("max_tries", 0),
                                         ("min_words", -1), ("temperature", -1.0), ("top_p", 0.0),
                                         ("top_p", 1.5)])
def test_config_validates_itself(field, value):
    with pytest.raises(InputError, match=field):
        GenerationConfig(**{field: value})


KILL_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
from tiny import tiny_llama, tiny_tokenizer
import torch
from workbench.data.generate import GenerationConfig, generate_stories
torch.set_num_threads(1)
class Adapter: pass
m = Adapter(); m.tokenizer = tiny_tokenizer(); m.hf_model = tiny_llama(len(m.tokenizer), n_layers=2)
generate_stories(m, ["calm", "sad", "bored", "tense"], ["A lake", "A train", "A field"], 1, sys.argv[1],
                 seed=3, config=GenerationConfig(batch_size=1, tokens_per_story=int(sys.argv[3]), min_words=0))
"""


def test_kill_minus_nine_mid_run_then_rerun_completes_without_duplicates(tmp_path):
    out = tmp_path / "c.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", KILL_SCRIPT, str(out), str(REPO / "tests")]
    proc = subprocess.Popen(args + ["100"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    before = out.read_bytes()
    n_before = before.count(b"\n")
    assert 2 <= n_before < 12, n_before  # killed mid-run, after some rows
    rerun = generate_stories(tiny_adapter(scale=1.0), ["calm", "sad", "bored", "tense"], ["A lake", "A train", "A field"],
                             1, out, seed=3, config=GenerationConfig(batch_size=4, tokens_per_story=20, min_words=0))
    assert (rerun.rows_skipped, rerun.rows_written) == (n_before, 12 - n_before)
    rows = read_rows(out)
    keys = [(r["emotion"], r["topic"]) for r in rows]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert out.read_bytes()[: len(before.rsplit(b"\n", 1)[0])] == before.rsplit(b"\n", 1)[0]


# ---------------------------------------------------------------- the CLI

@pytest.fixture
def fake_load_model(monkeypatch):
    import workbench.models

    loaded = []

    def load_model(name, **kwargs):
        loaded.append((name, kwargs))
        return tiny_adapter()

    monkeypatch.setattr(workbench.models, "load_model", load_model, raising=False)
    return loaded


def test_cli_generate_writes_a_corpus_and_reruns_cleanly(tmp_path, fake_load_model, capsys):
    out = tmp_path / "c.jsonl"
    argv = ["generate", "--model", "tiny", "--out", str(out), "--emotions", "calm,sad", "--topics", "2",
            "--stories-per-topic", "1", "--tokens-per-story", "8", "--seed", "3", "--batch-size", "2",
            "--min-words", "0"]
    assert main(argv) == 0
    rows = read_rows(out)
    topics = load_topics()[:2]
    assert [(r["emotion"], r["topic"]) for r in rows] == [(e, t) for e in ("calm", "sad") for t in topics]
    assert {r["model"] for r in rows} == {"tiny"} and rows[0]["sampling"]["batch_size"] == 2
    assert "4 rows written, 0 already there" in capsys.readouterr().out
    assert main(argv) == 0 and "0 rows written, 4 already there" in capsys.readouterr().out
    assert main(argv + ["--dtype", "float32"]) == 0
    assert fake_load_model == [("tiny", {}), ("tiny", {}), ("tiny", {"dtype": "float32"})]


def test_cli_generate_bad_input(tmp_path, fake_load_model, capsys):
    base = ["generate", "--model", "tiny", "--out", str(tmp_path / "c.jsonl")]
    assert main(base + ["--emotions", "calm,glad,blue"]) == 2
    assert "['glad', 'blue']" in capsys.readouterr().err
    assert main(base + ["--topics", "31"]) == 2
    assert "--topics 31: choose 1..30" in capsys.readouterr().err
    assert fake_load_model == []  # nothing loaded before the inputs were checked


@pytest.mark.slow
def test_cli_generate_with_the_embedded_model(tmp_path, capsys):
    models = pytest.importorskip("workbench.models")
    if not hasattr(models, "load_model"):
        pytest.skip("workbench.models.load_model is not available yet")
    out = tmp_path / "c.jsonl"
    # the acceptance command, with a smaller token budget and fewer retries to bound its time on a CPU
    argv = ["generate", "--model", "gemma-3-270m", "--out", str(out), "--emotions", "joyful,afraid",
            "--topics", "1", "--stories-per-topic", "2", "--tokens-per-story", "160", "--max-tries", "2"]
    assert main(argv) == 0
    rows = read_rows(out)
    assert [r["emotion"] for r in rows] == ["joyful", "afraid"]
    for r in rows:
        assert len(r["stories"]) + len(r["failed"]) == 2 and r["sampling"]["tokens_per_story"] == 160
        assert all(f["attempts"] == 2 for f in r["failed"])
    if any(r["stories"] for r in rows):
        assert not [p for p in validate(load_corpus(out), None).problems if p.kind == "names_emotion"]
