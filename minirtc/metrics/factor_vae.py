"""FactorVAE score (Kim & Mnih 2018, "Disentangling by factorising", Sec. 4).

Global variances of each code (ddof=1) over 10,000 observations; codes with
std < 0.05 are pruned as collapsed.  Each vote: pick factor k, draw a batch of 64
with factor k fixed to one value, and vote for the active code with the smallest
variance relative to its global variance.  Votes fill a (codes, factors) table;
the classifier maps each code to its majority factor; the score is the fraction
of 5,000 evaluation votes it gets right (10,000 training votes).  No active code:
score 0 (docs/metrics.md).

disentanglement_lib prunes with threshold 0 (nothing is pruned); Kim & Mnih's
paper uses 0.05, which is what is implemented here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minirtc.metrics.checks import check_codes, check_count, check_rng
from minirtc.metrics.sampling import (
    POINTS_PER_DRAW,
    RepresentationFn,
    encode_factors,
    sample_codes,
    varying_factors,
)
from minirtc.progress import track

PRUNE_STD = 0.05  # Kim & Mnih: codes whose global std is below this are collapsed


def active_codes(global_variances: np.ndarray, threshold: float = PRUNE_STD) -> np.ndarray:
    """Indices of codes whose global std is at least `threshold`."""
    return np.flatnonzero(np.sqrt(global_variances) >= threshold)


def factor_vae_votes(
    labels: np.ndarray,
    batch_codes: np.ndarray,
    global_variances: np.ndarray,
    num_factors: int,
    threshold: float = PRUNE_STD,
) -> np.ndarray:
    """Vote table (D, K): [d, k] = number of batches with factor k fixed whose argmin code is d.

    labels (P,) factor fixed in each batch; batch_codes (P, B, D); global_variances (D,).
    """
    if batch_codes.ndim != 3 or batch_codes.shape[1] < 2:
        raise ValueError(f"batch_codes must be (P, B, D) with B >= 2, got shape {batch_codes.shape}")
    P, _, D = batch_codes.shape  # votes, batch, codes
    labels = np.asarray(labels)
    if labels.shape != (P,) or np.any(labels < 0) or np.any(labels >= num_factors):
        raise ValueError(f"labels must be (P,) = ({P},) factor indices in 0..{num_factors - 1}")
    if global_variances.shape != (D,):
        raise ValueError(f"global_variances must be (D,) = ({D},), got {global_variances.shape}")
    votes = np.zeros((D, num_factors), dtype=np.int64)
    active = active_codes(global_variances, threshold)
    if active.size == 0:
        return votes
    local = np.var(batch_codes[:, :, active], axis=1, ddof=1)  # (P, D_active)
    winner = active[np.argmin(local / global_variances[active], axis=1)]  # (P,) original code index
    np.add.at(votes, (winner, labels), 1)
    return votes


def majority_vote_accuracy(train_votes: np.ndarray, eval_votes: np.ndarray) -> dict[str, float]:
    """Map each code to its majority training factor; accuracy of that map on both tables (D, K)."""
    if train_votes.shape != eval_votes.shape:
        raise ValueError(f"vote tables differ in shape: {train_votes.shape} vs {eval_votes.shape}")
    classifier = np.argmax(train_votes, axis=1)  # (D,) factor predicted for each winning code
    codes = np.arange(train_votes.shape[0])

    def accuracy(votes: np.ndarray) -> float:
        total = votes.sum()
        return float(votes[codes, classifier].sum() / total) if total > 0 else 0.0

    return {"train_accuracy": accuracy(train_votes), "eval_accuracy": accuracy(eval_votes)}


def factor_vae_score(
    train_labels: np.ndarray,
    train_batches: np.ndarray,
    eval_labels: np.ndarray,
    eval_batches: np.ndarray,
    global_variances: np.ndarray,
    num_factors: int,
) -> dict[str, float]:
    """FactorVAE score from labelled batches (P, B, D) and the codes' global variances (D,)."""
    train_votes = factor_vae_votes(train_labels, train_batches, global_variances, num_factors)
    eval_votes = factor_vae_votes(eval_labels, eval_batches, global_variances, num_factors)
    return majority_vote_accuracy(train_votes, eval_votes)


def factor_vae_batches(
    dataset: Any,
    representation_fn: RepresentationFn,
    num_votes: int,
    rng: np.random.Generator,
    group_size: int = 64,
    batch_size: int = 64,
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (labels (g,), batch_codes (g, B, D)) for num_votes batches with one factor fixed each."""
    num_votes, B = check_count(num_votes, "num_votes"), check_count(group_size, "group_size", 2)
    varying, rng = varying_factors(dataset), check_rng(rng)
    K = len(dataset.factor_sizes)
    draws = range(0, num_votes, POINTS_PER_DRAW)
    for start in track(draws, "factor_vae", enabled=progress, leave=False, log_lines=False):
        g = min(POINTS_PER_DRAW, num_votes - start)
        k = rng.integers(0, len(varying), g)  # (g,) the factor each batch keeps fixed
        factors = dataset.sample_factors(g * B, rng).reshape(g, B, K)
        rows, cols = np.arange(g)[:, None], varying[k][:, None]  # (g, 1) each
        factors[rows, np.arange(B)[None, :], cols] = factors[
            rows, 0, cols
        ]  # whole batch shares batch 0's value
        codes = encode_factors(dataset, representation_fn, factors.reshape(g * B, K), rng, batch_size)
        yield k, codes.reshape(g, B, -1)


def compute_factor_vae(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    group_size: int = 64,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, float]:
    """FactorVAE score of a representation on a ground-truth dataset (docs/metrics.md)."""
    _, codes = sample_codes(dataset, representation_fn, num_variance_estimate, rng, batch_size)
    global_variances = np.var(check_codes(codes), axis=0, ddof=1)  # (D,)
    num_active = int(active_codes(global_variances).size)
    if num_active == 0:
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_codes": 0.0}
    K = len(varying_factors(dataset))

    def tally(num_votes: int) -> np.ndarray:
        votes = np.zeros((codes.shape[1], K), dtype=np.int64)
        for labels, batch in factor_vae_batches(
            dataset, representation_fn, num_votes, rng, group_size, batch_size, progress
        ):
            votes += factor_vae_votes(labels, batch, global_variances, K)
        return votes

    train_votes = tally(num_train)
    scores = majority_vote_accuracy(train_votes, tally(num_eval))
    return {**scores, "num_active_codes": float(num_active)}
