"""BetaVAE score (Higgins et al. 2017, "beta-VAE: learning basic visual concepts with a
constrained variational framework", Sec. 3).

Each point: pick a factor k at random, draw two batches of 64 factor vectors,
copy factor k from the first batch into the second (so every pair shares k),
encode both, and take the feature  mean_b |r1_b - r2_b|  (D,); its label is k.
A scikit-learn default `LogisticRegression` is trained on 10,000 points; the
score is its accuracy on 5,000 fresh points (docs/metrics.md).  A code that captures
factor k alone has |r1 - r2| near 0 there, which makes k easy to read off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.metrics.checks import check_codes, check_count, check_rng, sklearn_seed
from minirtc.metrics.logistic import fit_default_logistic
from minirtc.metrics.sampling import POINTS_PER_DRAW, RepresentationFn, encode_factors, varying_factors
from minirtc.progress import track


def beta_vae_features(codes1: np.ndarray, codes2: np.ndarray) -> np.ndarray:
    """Features (P, D) = mean over the batch of |codes1 - codes2|, both (P, B, D)."""
    if codes1.ndim != 3 or codes1.shape != codes2.shape:
        raise ValueError(f"codes1 and codes2 must both be (P, B, D), got {codes1.shape} and {codes2.shape}")
    return np.mean(np.abs(codes1 - codes2), axis=1)


def beta_vae_score(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    eval_features: np.ndarray,
    eval_labels: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Train and eval accuracy of a logistic regression from features (P, D) to factor labels (P,)."""
    x, x_eval = check_codes(train_features, "train_features"), check_codes(eval_features, "eval_features")
    y, y_eval = np.asarray(train_labels), np.asarray(eval_labels)
    if y.shape != (x.shape[0],) or y_eval.shape != (x_eval.shape[0],):
        raise ValueError(
            f"labels must be (P,) with one per feature row: got {y.shape} for {x.shape[0]} train rows "
            f"and {y_eval.shape} for {x_eval.shape[0]} eval rows"
        )
    if np.unique(y).size < 2:
        raise ValueError("train_labels hold a single factor; the classifier needs at least two")
    model = fit_default_logistic(x, y, sklearn_seed(check_rng(rng)))
    return {
        "train_accuracy": float(np.mean(model.predict(x) == y)),
        "eval_accuracy": float(np.mean(model.predict(x_eval) == y_eval)),
    }


def beta_vae_points(
    dataset: Any,
    representation_fn: RepresentationFn,
    num_points: int,
    rng: np.random.Generator,
    group_size: int = 64,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """num_points BetaVAE training points: features (P, D) and labels (P,) in 0..K'-1.

    Labels index the dataset's VARYING factors; group_size is the metric's batch
    of pairs (64), batch_size how many images the representation sees per call.
    """
    num_points, B = check_count(num_points, "num_points"), check_count(group_size, "group_size")
    varying, rng = varying_factors(dataset), check_rng(rng)
    K = len(dataset.factor_sizes)
    features, labels = [], []
    draws = range(0, num_points, POINTS_PER_DRAW)
    for start in track(draws, "beta_vae", enabled=progress, leave=False, log_lines=False):
        g = min(POINTS_PER_DRAW, num_points - start)
        k = rng.integers(0, len(varying), g)  # (g,) the factor each point keeps fixed
        f1 = dataset.sample_factors(g * B, rng).reshape(g, B, K)
        f2 = dataset.sample_factors(g * B, rng).reshape(g, B, K)
        rows, cols = np.arange(g)[:, None], varying[k][:, None]  # (g, 1) each
        f2[rows, np.arange(B)[None, :], cols] = f1[rows, np.arange(B)[None, :], cols]
        both = np.concatenate([f1, f2]).reshape(2 * g * B, K)
        codes = encode_factors(dataset, representation_fn, both, rng, batch_size).reshape(2, g, B, -1)
        features.append(beta_vae_features(codes[0], codes[1]))
        labels.append(k)
    return np.concatenate(features), np.concatenate(labels)


def compute_beta_vae(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    group_size: int = 64,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, float]:
    """BetaVAE score of a representation on a ground-truth dataset (docs/metrics.md)."""
    train = beta_vae_points(dataset, representation_fn, num_train, rng, group_size, batch_size, progress)
    evals = beta_vae_points(dataset, representation_fn, num_eval, rng, group_size, batch_size, progress)
    return beta_vae_score(*train, *evals, rng=rng)
