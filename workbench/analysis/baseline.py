"""Baselines with no model at all: what the words of the stories alone say about valence (METHOD.md section 5).

Two feature sets per story, averaged per emotion (one mean per story, then the
mean of the story means, as for the emotion vectors):

- ``bag of words``: TF-IDF of the story's words (lower-cased, words in at least
  2 stories, sublinear term frequency, each story's row of unit length);
- ``VADER``: the lexicon's negative, neutral, positive and compound scores.

They get the statistics of one layer of the emotion vectors: PC1-valence |r|
with its permutation p, the best of the first ``n_pcs`` PCs with a permutation
p for that choice, and the cross-validated ridge r. Set them beside block 0,
which has seen the words only through the embedding and one block.
"""

from __future__ import annotations

import numpy as np

from workbench.analysis.headline import pc_stats
from workbench.analysis.stats import pearson, permutation_p
from workbench.analysis.valence import kfold_indices, ridge_valence
from workbench.errors import InputError

__all__ = ["text_features", "baseline_stats", "BASELINES"]

BASELINES = ("bag of words", "VADER")


def _per_emotion(rows, labels, emotions) -> np.ndarray:
    """The mean row of each emotion's stories (``rows``: an array, or a sparse matrix kept sparse)."""
    labels = np.asarray(labels)
    missing = [e for e in emotions if not (labels == e).any()]
    if missing:
        raise InputError(f"baseline features: no story text for emotion(s) {missing}")
    return np.stack([np.asarray(rows[labels == e].mean(axis=0)).ravel() for e in emotions])


def text_features(texts, labels, emotions) -> dict[str, np.ndarray]:
    """``{name: [n_emotions, d]}`` no-model features of the stories ``texts`` (emotion ``labels[i]``),
    rows in the order of ``emotions``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = list(texts)
    if len(texts) != len(labels):
        raise InputError(f"baseline features: {len(texts)} texts for {len(labels)} labels")
    # kept sparse: dense, [n_stories, vocabulary] would grow with the square of a large corpus
    bow = TfidfVectorizer(lowercase=True, min_df=2, sublinear_tf=True).fit_transform(texts)
    analyzer = SentimentIntensityAnalyzer()
    vader = np.array([[s[k] for k in ("neg", "neu", "pos", "compound")]
                      for s in (analyzer.polarity_scores(t) for t in texts)])
    return {"bag of words": _per_emotion(bow, labels, emotions), "VADER": _per_emotion(vader, labels, emotions)}


def baseline_stats(F: np.ndarray, valence, arousal, settings, perms, rng: np.random.Generator) -> dict:
    """PC1-valence |r| and permutation p, best valence PC (corrected for the choice), ridge r of ``F``."""
    X = np.asarray(F, dtype=np.float64)[None]
    n = X.shape[1]
    n_pcs = min(settings.n_pcs, X.shape[2])
    P, cols = pc_stats(X, valence, arousal, max(n_pcs, 2))
    shuffled = np.asarray(valence)[perms][:, None, :]
    k = min(n_pcs, P.scores.shape[2])
    nulls = np.stack([np.abs(pearson(P.scores[None, :, :, j], shuffled)) for j in range(k)], axis=-1)  # [B, 1, k]
    nulls = np.where((P.explained[:, :k] < 1e-10)[None], np.nan, nulls)
    folds_n = min(settings.cv_folds, n // 3)
    cv = np.nan
    if folds_n >= 2:
        cv = float(ridge_valence(X, valence, rng, folds=kfold_indices(rng, n, folds_n)).cv_r[0])
    return {"d": int(X.shape[2]), "pc1_valence_r": float(cols["pc1_valence_r"][0]),
            "pc1_valence_p_perm": float(permutation_p(cols["pc1_valence_r"], nulls[:, :, 0])[0]),
            "best_valence_pc": int(cols["best_valence_pc"][0]), "best_valence_r": float(cols["best_valence_r"][0]),
            "best_valence_p": float(permutation_p(cols["best_valence_r"], np.fmax.reduce(nulls, axis=-1))[0]),
            "valence_cv_r": cv}
