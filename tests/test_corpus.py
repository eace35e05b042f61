"""Loading story corpora: files, folders, bundled, hf: (offline), their errors, and the Corpus methods."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from workbench.data import corpus as corpus_mod
from workbench.data.corpus import Corpus, Story, load_corpus
from workbench.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpora" / "gemma4-e4b-stories.jsonl"

ROWS = [
    {"emotion": "calm", "topic": "a lake", "prompt": "p", "raw_response": "r", "stories": ["one two three", "four five"]},
    {"emotion": "sad", "topic": "a train", "stories": ["six seven eight nine"]},
    {"emotion": "calm", "topic": "a hill", "stories": ["ten", "eleven twelve", "thirteen"]},
]


def write_rows(path: Path, rows, blank_after_first=False) -> Path:
    lines = [json.dumps(r) for r in rows]
    if blank_after_first:
        lines.insert(1, "   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def naive_sha(triples) -> str:
    h = hashlib.sha256()
    for t in triples:
        h.update(json.dumps(list(t), ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def test_file_keeps_order_lines_numbers_and_meta(tmp_path):
    c = load_corpus(write_rows(tmp_path / "c.jsonl", ROWS, blank_after_first=True))
    assert len(c) == 6 and c.emotions == ("calm", "sad")
    assert [(s.line, s.number) for s in c.stories] == [(1, 1), (1, 2), (3, 1), (4, 1), (4, 2), (4, 3)]
    assert c.texts[3] == "ten" and c.stories[2].topic == "a train"
    assert c.meta()[4] == {"emotion": "calm", "topic": "a hill", "story": 2, "line": 4,
                           "source": str(tmp_path / "c.jsonl"), "kind": "story"}
    assert c.stories_per_emotion() == {"calm": 5, "sad": 1}
    assert [s.text for s in c.by_emotion()["calm"]] == ["one two three", "four five", "ten", "eleven twelve",
                                                        "thirteen"]
    assert c.sha256 == naive_sha((s["emotion"], s.get("topic", ""), t) for s in ROWS for t in s["stories"])


def test_sha256_depends_on_content_not_on_location(tmp_path):
    a = load_corpus(write_rows(tmp_path / "a.jsonl", ROWS))
    b = load_corpus(write_rows(tmp_path / "sub.jsonl", ROWS, blank_after_first=True))
    changed = [dict(r) for r in ROWS]
    changed[1] = {**changed[1], "stories": ["six seven eight nine!"]}
    c = load_corpus(write_rows(tmp_path / "c.jsonl", changed))
    assert a.sha256 == b.sha256 != c.sha256


def test_summary_matches_a_naive_count(tmp_path):
    c = load_corpus(write_rows(tmp_path / "c.jsonl", ROWS))
    words = [len(t.split()) for r in ROWS for t in r["stories"]]
    s = c.summary()
    assert s["n_emotions"] == 2 and s["n_stories"] == 6
    assert s["stories_per_emotion"] == {"min": 1, "mean": 3.0, "max": 5}
    assert s["words_per_story"] == {"min": 1, "mean": pytest.approx(statistics.mean(words)), "max": 4}


def test_subset_and_head(tmp_path):
    c = load_corpus(write_rows(tmp_path / "c.jsonl", ROWS))
    assert c.subset(["sad"]).texts == ("six seven eight nine",)
    assert c.subset(["sad", "calm"]).texts == c.texts  # corpus order is kept
    assert c.head(1).emotions == ("calm",) and len(c.head(1)) == 5
    with pytest.raises(InputError, match=r"\['joyful', 'bored'\]"):
        c.subset(["calm", "joyful", "bored"])
    with pytest.raises(InputError):
        c.head(0)


def test_folder_reads_sorted_files_and_remembers_each_source(tmp_path):
    write_rows(tmp_path / "b.jsonl", ROWS[2:])
    write_rows(tmp_path / "a.jsonl", ROWS[:2])
    (tmp_path / "notes.txt").write_text("not a corpus")
    c = load_corpus(tmp_path)
    assert c.texts == load_corpus(write_rows(tmp_path.parent / "all.jsonl", ROWS)).texts
    assert {Path(s.source).name for s in c.stories} == {"a.jsonl", "b.jsonl"}
    assert c.stories[-1].line == 1 and Path(c.stories[-1].source).name == "b.jsonl"


def test_bundled_means_every_jsonl_of_the_stories_folder(tmp_path, monkeypatch):
    write_rows(tmp_path / "part2.jsonl", ROWS[1:2])
    write_rows(tmp_path / "part1.jsonl", ROWS[:1])
    monkeypatch.setattr(corpus_mod, "BUNDLED_DIR", tmp_path)
    c = load_corpus("bundled")
    assert c.name == "bundled" and c.texts == ("one two three", "four five", "six seven eight nine")


def test_save_jsonl_round_trips(tmp_path):
    c = load_corpus(write_rows(tmp_path / "c.jsonl", ROWS))
    d = load_corpus(c.save_jsonl(tmp_path / "out" / "d.jsonl"))
    assert d.sha256 == c.sha256 and [s.line for s in d.stories] == [1, 1, 2, 3, 3, 3]


@pytest.mark.parametrize("line,expected", [
    ('{"emotion": "sad", "stories": ["a"]', "line 2: malformed JSON"),
    ('{"topic": "x", "stories": ["a"]}', "line 2: missing or empty 'emotion'"),
    ('{"emotion": "", "stories": ["a"]}', "line 2: missing or empty 'emotion'"),
    ('{"emotion": "sad", "topic": "x"}', "line 2: missing 'stories'"),
    ('{"emotion": "sad", "stories": "a story"}', "line 2: 'stories' must be a list of strings, got str"),
    ('{"emotion": "sad", "stories": ["a", 3, null]}', r"line 2: 'stories' must be a list of strings; item\(s\) \[2, 3\]"),
    ('{"emotion": "sad", "topic": 4, "stories": ["a"]}', "line 2: 'topic' must be a string"),
    ('["sad", ["a"]]', "line 2: expected a JSON object"),
])
def test_bad_rows_name_file_and_line(tmp_path, line, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=expected) as info:
        load_corpus(path)
    assert str(path) in str(info.value)


def test_empty_and_missing_sources(tmp_path):
    (tmp_path / "blank.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no stories"):
        load_corpus(tmp_path / "blank.jsonl")
    write_rows(tmp_path / "none.jsonl", [{"emotion": "sad", "stories": []}])
    with pytest.raises(InputError, match="none.jsonl: no stories"):
        load_corpus(tmp_path / "none.jsonl")
    with pytest.raises(InputError, match="does not exist"):
        load_corpus(tmp_path / "missing.jsonl")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match=r"holds no \*\.jsonl"):
        load_corpus(tmp_path / "empty_dir")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"emotion": "sad", "stories": ["caf\xe9"]}\n')
    with pytest.raises(InputError, match="not UTF-8"):
        load_corpus(tmp_path / "latin1.jsonl")
    with pytest.raises(InputError, match="no stories"):
        Corpus((), "x")


def test_hf_source_goes_through_datasets(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(repo, split):
        calls.append((repo, split, datasets.config.HF_HUB_OFFLINE))
        return datasets.Dataset.from_list([{**r, "prompt": "p", "raw_response": "r"} if "prompt" not in r else r
                                           for r in ROWS])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(corpus_mod, "_hub_check", lambda repo, timeout: "")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    offline_before = datasets.config.HF_HUB_OFFLINE
    c = load_corpus("hf:someone/stories@test")
    assert c.name == "hf:someone/stories@test" and len(c) == 6
    assert [(s.source, s.line) for s in c.stories][2:4] == [("hf:someone/stories@test", 2),
                                                           ("hf:someone/stories@test", 3)]
    monkeypatch.setattr(corpus_mod, "_hub_check", lambda repo, timeout: "the hub cannot be reached")
    load_corpus("hf:someone/stories")  # unreachable hub: read the cache only, then restore the flag
    assert calls == [("someone/stories", "test", offline_before), ("someone/stories", "train", True)]
    assert datasets.config.HF_HUB_OFFLINE == offline_before
    for bad in ("hf:", "hf:noslash", "hf:a/b/c"):
        with pytest.raises(InputError, match="expected 'hf:OWNER/NAME"):
            load_corpus(bad)


class _FakeHub(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/api/datasets/owner/name":
            code, body, kind = 200, json.dumps({"id": "owner/name"}), "application/json"
        elif self.path == "/api/datasets/owner/missing":
            code, body, kind = 404, json.dumps({"error": "Repository not found"}), "application/json"
        else:
            code, body, kind = 404, "<html>proxy says no</html>", "text/html"
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_hub_check_is_one_short_request(monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), _FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        assert corpus_mod._hub_check("owner/name", 2.0) == ""
        assert "HTTP 404, not a hub answer" in corpus_mod._hub_check("other/repo", 2.0)
        with pytest.raises(InputError, match="hub answered HTTP 404: Repository not found"):
            corpus_mod._hub_check("owner/missing", 2.0)
    finally:
        server.shutdown()
        server.server_close()
    sink = socket.socket()  # accepts connections (backlog) but never answers
    sink.bind(("127.0.0.1", 0))
    sink.listen(4)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{sink.getsockname()[1]}")
        t0 = time.monotonic()
        assert "cannot be reached" in corpus_mod._hub_check("owner/name", 0.5)
        assert time.monotonic() - t0 < 3
    finally:
        sink.close()


HF_SCRIPT = textwrap.dedent("""
    import json, os, shutil, sys, time
    from pathlib import Path
    from workbench.data.corpus import load_corpus
    from workbench.errors import OfflineError
    out = {}
    def attempt(key, source):
        t0 = time.monotonic()
        try:
            c = load_corpus(source)
            out[key] = {"ok": [c.name, list(c.texts), [s.line for s in c.stories]]}
        except OfflineError as exc:
            out[key] = {"offline_error": str(exc)}
        out[key]["seconds"] = time.monotonic() - t0
    attempt("unreachable", "hf:snae/emotion_stories_gemma_4_4B")
    os.environ["HF_HUB_OFFLINE"] = "1"
    attempt("offline_env", "hf:snae/emotion_stories_gemma_4_4B@train")
    # build a real datasets cache entry for owner/name, as a first online run would leave it
    import datasets
    datasets.load_dataset("json", data_files=sys.argv[1], split="train")
    cache = Path(datasets.config.HF_DATASETS_CACHE)
    (cache / "json").rename(cache / "owner___name")
    for config in (cache / "owner___name").glob("default-*"):
        config.rename(config.with_name("default"))
    for arrow in (cache / "owner___name").glob("default/*/*/json-*.arrow"):
        arrow.rename(arrow.with_name(arrow.name.replace("json-", "name-", 1)))
    attempt("cached_offline_env", "hf:owner/name")
    del os.environ["HF_HUB_OFFLINE"]
    attempt("cached_unreachable", "hf:owner/name")
    print(json.dumps(out))
""")


def test_hf_without_a_hub_is_a_clear_offline_error_and_the_cache_still_works(tmp_path):
    data = write_rows(tmp_path / "rows.jsonl", ROWS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", HF_SCRIPT, str(data)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key, why in (("unreachable", "cannot be reached"), ("offline_env", "offline mode is set")):
        msg = out[key]["offline_error"]
        assert why in msg and "run once with network access" in msg and "download" in msg
        assert "https://huggingface.co/datasets/snae/emotion_stories_gemma_4_4B" in msg
        assert out[key]["seconds"] < 15, out[key]
    texts = [t for r in ROWS for t in r["stories"]]
    for key in ("cached_offline_env", "cached_unreachable"):
        assert out[key]["ok"] == ["hf:owner/name@train", texts, [1, 1, 2, 3, 3, 3]], out[key]


@pytest.mark.skipif(not SHARED_CORPUS.is_file(), reason=f"the published corpus is not at {SHARED_CORPUS} "
                    "(../shared is only in the development checkout)")
def test_published_corpus_loads_with_line_numbers():
    c = load_corpus(SHARED_CORPUS)
    rows = [json.loads(x) for x in SHARED_CORPUS.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(c.emotions) == 171 and set(c.stories_per_emotion().values()) == {6}
    assert c.sha256 == naive_sha((r["emotion"], r["topic"], t) for r in rows for t in r["stories"])
    s = c.stories[100]
    assert rows[s.line - 1]["stories"][s.number - 1] == s.text


def test_story_is_frozen_and_hashable():
    s = Story("sad", "t", "x", "f", 1, 1)
    assert {s: 1}[Story("sad", "t", "x", "f", 1, 1)] == 1 and s.where == "f:1 story 1"
    with pytest.raises(AttributeError):
        s.text = "y"


# ---------------------------------------------------------------- neutral texts

def test_neutral_texts_load_in_order_with_clear_errors(tmp_path):
    from workbench.data.neutral import load_neutral_texts

    good = tmp_path / "n.jsonl"
    good.write_text('{"id": 1, "subject": "rivers", "text": "Rivers carry silt."}\n\n'
                    '{"id": 2, "subject": "salt", "text": "Salt is mined."}\n')
    assert load_neutral_texts(good) == ("Rivers carry silt.", "Salt is mined.")
    cases = [('{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n', "line 2: id 1 already used on line 1"),
             ('{"id": 1, "text": "a"}\n{"id": 2, "text": "a"\n', "line 2: malformed JSON"),
             ('{"id": 1, "subject": "x"}\n', "line 1: missing or empty 'text'"),
             ('{"id": 1, "text": "   "}\n', "line 1: missing or empty 'text'"),
             ('"just a string"\n', "line 1: expected a JSON object"),
             ("\n\n", "has no texts")]
    for i, (content, expected) in enumerate(cases):
        path = tmp_path / f"bad{i}.jsonl"
        path.write_text(content)
        with pytest.raises(InputError, match=expected) as info:
            load_neutral_texts(path)
        assert str(path) in str(info.value)
    with pytest.raises(InputError, match="does not exist"):
        load_neutral_texts(tmp_path / "missing.jsonl")


@pytest.mark.skipif(not (REPO / "data" / "neutral_texts.jsonl").is_file(), reason="data/neutral_texts.jsonl not there yet")
def test_project_neutral_texts_are_forty_distinct_paragraphs():
    from workbench.data.forms import names_emotion
    from workbench.data.neutral import load_neutral_texts
    from workbench.data.ratings import load_ratings

    texts = load_neutral_texts()
    assert len(texts) >= 40 and len(set(texts)) == len(texts)
    assert all(80 <= len(t.split()) <= 140 for t in texts)
    named = [(i, e, names_emotion(t, e)) for i, t in enumerate(texts, 1) for e in load_ratings().emotions
             if names_emotion(t, e)]
    assert named == []  # free of emotion words
