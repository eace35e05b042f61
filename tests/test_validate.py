"""The problem table: planted problems come back with their file, line and story; dropping them; the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from tiny import tiny_tokenizer

from workbench.cli import main
from workbench.data.corpus import load_corpus
from workbench.data.ratings import Ratings
from workbench.data.validate import KINDS, ValidationReport, drop_flagged, validate
from workbench.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpora" / "gemma4-e4b-stories.jsonl"
VOCAB = "the house was dark and the window was cold at night".split()


def words(n: int, offset: int = 0) -> str:
    """``n`` words of the tiny tokenizer's vocabulary: exactly one token each."""
    return " ".join(VOCAB[(i + offset) % len(VOCAB)] for i in range(n))


CLEAN = words(45)
ROWS = [
    {"emotion": "calm", "topic": "t1", "stories": [CLEAN, words(44) + " calm"]},
    {"emotion": "sad", "topic": "t2", "stories": ["  " + CLEAN.upper() + " ", "  \n "]},
    {"emotion": "joyful", "topic": "t3", "stories": [words(10, 3)]},
]
RATINGS = Ratings(("calm", "sad", "bored"), np.array([0.7, -0.8, -0.6]), np.array([-0.9, -0.1, -0.6]),
                  ("nrc_vad",) * 3)


@pytest.fixture
def corpus_path(tmp_path) -> Path:
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def write_ratings(path: Path, r: Ratings) -> Path:
    path.write_text("emotion,valence,arousal,source\n" + "".join(
        f"{e},{v},{a},{s}\n" for e, v, a, s in zip(r.emotions, r.valence, r.arousal, r.source)))
    return path


def test_planted_problems_come_back_with_file_line_and_story(corpus_path):
    report = validate(load_corpus(corpus_path), RATINGS)
    src = str(corpus_path)
    assert [(p.kind, p.emotion, p.source, p.line, p.story) for p in report.problems] == [
        ("names_emotion", "calm", src, 1, 2), ("duplicate", "sad", src, 2, 1), ("empty", "sad", src, 2, 2),
        ("too_short", "joyful", src, 3, 1), ("no_rating", "joyful", src, 3, None),
        ("no_stories", "bored", "ratings", None, None)]
    details = [p.detail for p in report.problems]
    assert details[0] == "names it: 'calm'" and details[1] == "same text as a.jsonl:1 story 1"
    assert details[3] == "10 words (needs 40)"
    assert not report.ok and report.counts() == dict.fromkeys(KINDS, 1)
    assert report.n_stories == 5 and report.corpus_sha256 == load_corpus(corpus_path).sha256


def test_word_threshold_is_a_boundary(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"emotion": "calm", "stories": [words(40), words(39, 1)]}) + "\n")
    report = validate(load_corpus(path), None)
    assert [(p.story, p.detail) for p in report.problems] == [(2, "39 words (needs 40)")]
    assert [p.story for p in validate(load_corpus(path), None, min_words=39).problems] == []


@pytest.mark.parametrize("add_bos,n_ok_words", [(True, 109), (False, 110)])
def test_token_threshold_counts_positions_past_the_offset_with_bos_at_zero(tmp_path, add_bos, n_ok_words):
    # every word is one token: n words -> n (+1 BOS) tokens; pooled positions are 50.. -> n (+1) - 50 tokens
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"emotion": "calm", "stories": [words(n_ok_words), words(n_ok_words - 1, 2)]}))
    tok = tiny_tokenizer(add_bos=add_bos)
    assert len(tok(words(n_ok_words))["input_ids"]) == 110  # the premise of this test
    report = validate(load_corpus(path), None, tokenizer=tok)
    assert [(p.kind, p.story) for p in report.problems] == [("too_short", 2)]
    assert report.problems[0].detail.startswith("59 tokens at or past position 50 (needs 60; 109 tokens")
    assert validate(load_corpus(path), None, tokenizer=tok, token_offset=49).ok
    assert len(validate(load_corpus(path), None, tokenizer=tok, min_tokens=61).problems) == 2
    assert report.settings["min_tokens"] == 60 and report.settings["min_words"] is None
    with pytest.raises(InputError, match="min_tokens needs a tokenizer"):
        validate(load_corpus(path), None, min_tokens=60)


def test_clean_corpus_is_ok(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"emotion": "calm", "stories": [words(50), words(50, 1)]}) + "\n"
                    + json.dumps({"emotion": "sad", "stories": [words(60, 2)]}) + "\n")
    report = validate(load_corpus(path), RATINGS.subset(["calm", "sad"]))
    assert report.ok and report.to_rows() == [] and report.format().startswith("no problems")


def test_drop_flagged_keeps_the_rest_and_records_what_it_dropped(corpus_path):
    corpus = load_corpus(corpus_path)
    report = validate(corpus, RATINGS)
    kept = drop_flagged(corpus, report)
    assert kept.texts == (CLEAN,)  # joyful's only story is too short, sad's are a duplicate and an empty one
    assert [(d["kind"], d["line"], d["story"]) for d in kept.dropped] == [
        ("names_emotion", 1, 2), ("duplicate", 2, 1), ("empty", 2, 2), ("too_short", 3, 1)]
    assert kept.sha256 != corpus.sha256 and kept.summary()["n_dropped"] == 4
    by_rating = drop_flagged(corpus, report, kinds=["no_rating"])
    assert by_rating.emotions == ("calm", "sad") and len(by_rating) == 4
    with pytest.raises(InputError, match="unknown problem kind"):
        drop_flagged(corpus, report, kinds=["typo"])
    with pytest.raises(InputError, match="nothing to drop"):
        drop_flagged(corpus, report, kinds=["no_stories"])
    with pytest.raises(InputError, match="the report is for corpus"):
        drop_flagged(kept, report)
    assert drop_flagged(corpus, report, kinds=[]) is corpus


def test_report_table_save_and_load(corpus_path, tmp_path):
    report = validate(load_corpus(corpus_path), RATINGS)
    table = report.format()
    assert table.splitlines()[0] == ("6 problem(s): names_emotion 1, duplicate 1, empty 1, too_short 1, "
                                     "no_rating 1, no_stories 1")
    assert re.search(r"^names_emotion\s+calm\s+a\.jsonl:1\s+2\s+names it: 'calm'$", table, re.MULTILINE)
    assert re.search(r"^no_stories\s+bored\s+ratings\s+rated emotion", table, re.MULTILINE)
    back = ValidationReport.load(report.save(tmp_path / "r.json"))
    assert back.problems == report.problems and back.corpus_sha256 == report.corpus_sha256


def test_cli_exit_codes_and_drop_flagged(corpus_path, tmp_path, capsys):
    ratings = write_ratings(tmp_path / "r.csv", RATINGS)
    assert main(["corpus", "check", str(corpus_path), "--ratings", str(ratings)]) == 1
    out = capsys.readouterr().out
    assert "3 emotions, 5 stories" in out and "a.jsonl:2" in out and "duplicate" in out
    dropped = tmp_path / "kept.jsonl"
    assert main(["corpus", "check", str(corpus_path), "--ratings", str(ratings),
                 "--drop-flagged", str(dropped), "--drop-kinds", "names_emotion,duplicate,empty,too_short"]) == 1
    side = json.loads((tmp_path / "kept.dropped.json").read_text())
    assert len(side["dropped"]) == 4 and side["kept_sha256"] == load_corpus(dropped).sha256
    assert main(["corpus", "check", str(dropped), "--ratings", str(write_ratings(
        tmp_path / "calm.csv", RATINGS.subset(["calm"])))]) == 0
    capsys.readouterr()
    assert main(["corpus", "check", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl does not exist" in capsys.readouterr().err
    assert main(["corpus", "check", str(corpus_path), "--min-tokens", "60"]) == 2


def test_cli_measures_tokens_with_a_local_tokenizer_folder(tmp_path, capsys):
    tiny_tokenizer().save_pretrained(tmp_path / "tok")
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"emotion": "calm", "stories": [words(109), words(108, 1)]}) + "\n")
    ratings = write_ratings(tmp_path / "r.csv", RATINGS.subset(["calm"]))
    assert main(["corpus", "check", str(path), "--ratings", str(ratings), "--tokenizer-model",
                 str(tmp_path / "tok")]) == 1
    out = capsys.readouterr().out
    assert "fewer than 60 tokens at or past position 50" in out and "too_short 1" in out
    assert "59 tokens at or past position 50" in out


@pytest.mark.skipif(not SHARED_CORPUS.is_file(), reason=f"the published corpus is not at {SHARED_CORPUS} "
                    "(../shared is only in the development checkout)")
def test_published_corpus_reports_its_stories_that_name_their_emotion(capsys):
    assert main(["corpus", "check", str(SHARED_CORPUS)]) == 1
    out = capsys.readouterr().out
    rows = [json.loads(x) for x in SHARED_CORPUS.read_text(encoding="utf-8").splitlines()]
    flagged = re.findall(r"^names_emotion\s+(\S+)\s+gemma4-e4b-stories\.jsonl:(\d+)\s+(\d+)\s+names it: (.*)$",
                         out, re.MULTILINE)
    assert flagged, out
    for emotion, line, story, named in flagged:  # each flagged story holds the named word, on that line
        row = rows[int(line) - 1]
        assert row["emotion"] == emotion
        for word in re.findall(r"'([^']+)'", named):
            assert re.search(rf"\b{re.escape(word)}\b", row["stories"][int(story) - 1])
    # a naive check (the bare emotion word) finds a subset of what the forms find
    naive = {(r["emotion"], str(i), str(k)) for i, r in enumerate(rows, 1) for k, s in enumerate(r["stories"], 1)
             if re.search(rf"\b{re.escape(r['emotion'])}\b", s, re.IGNORECASE)}
    ours = {(e, line, story) for e, line, story, _ in flagged}
    assert naive and naive <= ours and len(ours) > len(naive)
    assert "duplicate 0, empty 0, too_short 0, no_rating 0, no_stories 0" in out


BUNDLED = sorted((REPO / "data" / "stories").glob("*.jsonl"))


@pytest.mark.skipif(not BUNDLED, reason="the bundled story corpus (data/stories/*.jsonl) is not there yet")
def test_bundled_corpus_covers_every_rated_emotion_and_is_clean():
    from workbench.data.ratings import load_ratings

    corpus = load_corpus("bundled")
    report = validate(corpus, load_ratings())
    assert report.ok, report.format()
    assert set(corpus.emotions) == set(load_ratings().emotions) and len(corpus.emotions) == 171
    assert min(corpus.stories_per_emotion().values()) >= 2


@pytest.mark.slow
@pytest.mark.skipif(not BUNDLED, reason="the bundled story corpus (data/stories/*.jsonl) is not there yet")
def test_bundled_stories_are_long_enough_in_the_embedded_tokenizer(embedded):
    corpus = load_corpus("bundled")
    report = validate(corpus, None, tokenizer=embedded.tokenizer)
    assert report.ok, report.format()
    n_tokens = [len(x) for x in embedded.tokenizer(list(corpus.texts))["input_ids"]]
    assert min(n_tokens) - 50 >= 60
