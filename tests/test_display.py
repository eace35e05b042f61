"""``_repr_html_`` of the results: what a notebook cell ending in ``report`` (or vectors, activations) shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from test_analysis_support import combined, make_acts

import workbench as wb
from workbench.data.ratings import load_ratings


class _Tables(HTMLParser):
    """The cell texts of every table row in an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _rows(html: str):
    parser = _Tables()
    parser.feed(html)
    return parser.rows


@pytest.fixture(scope="module")
def results():
    ratings = load_ratings()
    sub = ratings.subset(ratings.emotions[:12])
    stories, neutral = make_acts(sub, n_layers=3, d_model=16, stories=2, valence_signal=3.0, n_neutral=6, seed=0)
    vectors = wb.emotion_vectors(stories, neutral)
    report = wb.analyze(vectors, ratings, stories, bootstrap=20, permutations=20, cka_shuffles=10, progress=False)
    return combined(stories, neutral), vectors, report


def test_report_shows_the_per_layer_r_with_ci_and_q(results):
    _, _, report = results
    html = report._repr_html_()
    rows = _rows(html)
    assert rows[0][:3] == ["layer", "depth", "PC1~valence r"]
    table = report.layers_table()
    body = [r for r in rows if r[0] != "layer"]
    assert len(body) == len(table) == 2 * 3  # projection off and on, 3 layers each
    for shown, row in zip(body, table):
        assert shown[0] == str(row["layer"])
        assert shown[2] == f"{row['pc1_valence_r']:.3f}"
        assert shown[3] == f"{row['pc1_valence_ci_low']:.3f}" and shown[4] == f"{row['pc1_valence_ci_high']:.3f}"
        assert shown[5] == f"{row['pc1_valence_q']:.2g}"
        assert shown[8] == f"{row['valence_cv_r']:.3f}"
    assert "12 emotions, 3 layers" in html
    peak = report.peak.layer
    assert re.search(rf"best at layer {peak}\b", html)


def test_vectors_show_their_shape_and_per_layer_norms(results):
    _, vectors, _ = results
    html = vectors._repr_html_()
    assert "12 emotions x 3 layers x d_model 16 (raw, contrast, projected)" in html
    rows = _rows(html)
    assert rows[0] == ["layer", "mean |contrast|", "neutral dims removed"]
    for j, row in enumerate(rows[1:]):
        norm = sum(float(v.norm()) for v in vectors.contrast[j]) / 12
        assert row == [str(vectors.layers[j]), f"{norm:.3g}", str(vectors.neutral_k[j])]


def test_activations_show_texts_by_kind(results):
    acts, _, _ = results
    rows = dict((r[0], r[1]) for r in _rows(acts._repr_html_()))
    assert rows["texts"] == "24 story, 6 neutral"
    assert rows["emotions"] == "12" and rows["layers"] == "0, 1, 2" and rows["d_model"] == "16"
