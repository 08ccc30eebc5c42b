"""Example 2: the minibatch TC estimators MWS, MSS0 and MSS1, and what they really estimate.

    python examples/02_minibatch_estimators.py [--quick] [--seed N] [--out DIR]

A VAE's aggregate posterior over a dataset of N items is the N-point mixture
q(z) = (1/N) sum_n q(z|n).  On a minibatch of M items, Chen et al.'s estimators
score each sample z_i under the M posteriors of the batch and mix them with a
weight matrix W (docs/estimators.md):

    log q(z_i)  ~= log sum_j W[i, j] prod_k q(z_ik | n_j)
    log q(z_ik) ~= log sum_j W[i, j]        q(z_ik | n_j)

MWS, MSS0 and MSS1 differ only in W.  This example prints the matrices, shows
the constants that separate MWS as published from its constant-free variant,
and follows all of them as the dimension D grows, against BOTH references:
the population Gaussian TC (what the paper plots) and the exact TC of the
finite mixture (what the estimators estimate).  NumPy only.
"""

# %% Setup
import math
import sys

import numpy as np

import minirtc
from minirtc.experiments.figures import COLOURS, LABELS, new_figure, save_figure, symlog_errors
from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.experiments.synthetic import gaussian_latents

args = lesson_args(__doc__.splitlines()[0])
single_threaded_blas()  # small matrices: one BLAS thread is fastest
rng = np.random.default_rng(args.seed)
N = 1024 if args.quick else 2048  # dataset size: q(z) mixes N posteriors
M = 256  # batch size
sigma = 0.1  # posterior width, as in the paper's Fig. 1
dims = (2, 6, 10) if args.quick else (2, 4, 6, 8, 10, 12, 14, 16)
repeats = 2 if args.quick else 3
methods = ("mws", "mws-noconst", "mss0", "mss1")
lesson = Lesson("02_minibatch_estimators")

# %% The weight matrices, on a batch of M = 5 from a dataset of N = 100
np.set_printoptions(precision=4, suppress=True, linewidth=120)
small_M, small_N = 5, 100
print(f"Weight matrices W[i, j] (sample i, posterior j) for M = {small_M}, N = {small_N}:")
for method in ("mws", "mss1", "mss0"):
    W = np.exp(minirtc.log_weight_matrix(method, small_M, small_N))  # (M, M)
    print(f"\n{method.upper()}:\n{W}\nrow sums: {W.sum(axis=1)}")
print(
    "\nWhat the weights do:"
    "\n- MWS gives every posterior 1/(N M): each row sums to 1/N, not 1.  The missing log N enters"
    "\n  log q(z) once and each of the D marginals once, so MWS as published carries (D - 1) log(N M)"
    "\n  more than the same estimator without constants (docs/estimators.md)."
    "\n- MSS1 weights the sample's OWN posterior 1/N (it is one of N items), one other item"
    "\n  (N - M')/(N M') (it stands in for the N - M' items not in the batch), the rest 1/M'.  Rows sum to 1."
    "\n- MSS0 (Chen et al.'s released code) writes those two special weights into columns 0 and 1"
    "\n  for every row, so only sample 0 gets 1/N on its own posterior; the row before last also"
    "\n  differs, and its row sum is not 1."
)
W1 = np.exp(minirtc.log_weight_matrix("mss1", small_M, small_N))
W0 = np.exp(minirtc.log_weight_matrix("mss0", small_M, small_N))
lesson.check("MSS1 rows sum to 1", np.allclose(W1.sum(axis=1), 1.0), f"row sums {W1.sum(axis=1).round(6)}")
own_posterior_weight_mss0 = np.isclose(np.diag(W0), 1 / small_N)  # (M,) per sample i: W0[i, i] == 1/N?
lesson.check(
    "MSS1 puts 1/N on the sample's own posterior, MSS0 only for sample 0",
    np.allclose(np.diag(W1), 1 / small_N)
    and own_posterior_weight_mss0.tolist() == [True] + [False] * (small_M - 1),
    f"diag(W1) = {np.diag(W1).round(4)}, diag(W0) = {np.diag(W0).round(4)}",
)


# %% One batch: every estimator and both references
def one_batch(D: int, rng: np.random.Generator) -> dict[str, float]:
    """mu_n ~ N(0, I), q(z|n) = N(mu_n, sigma^2 I): score one batch of M items with everything."""
    latents = gaussian_latents(rng, N, np.eye(D), sigma)  # the dataset's N posteriors
    z, mu, logvar = latents.batch(rng, M)  # (M, D) each: M distinct items, one z each
    tc = {"population": latents.population_tc()}  # z ~ N(0, (1 + sigma^2) I): TC = 0
    # the exact mixture TC at the same z: a logsumexp over all N posteriors
    # (docs/theory.md#elbo-decomposition)
    tc["exact"] = float(minirtc.decompose_exact(z, mu, logvar, latents.mu, latents.logvar, chunk_size=256).tc)
    for method in methods:
        tc[method] = float(minirtc.decompose(z, mu, logvar, N, method).tc)
    return tc


# %% The constants, exactly
D = 10
tc = one_batch(D, rng)
constant = (D - 1) * math.log(N * M)
print(
    f"\nAt D = {D}, N = {N}, M = {M}: MWS = {tc['mws']:.2f}, MWS without constants = {tc['mws-noconst']:.2f};"
    f"\ntheir difference {tc['mws'] - tc['mws-noconst']:.4f} = (D - 1) log(N M) = {constant:.4f} nats."
)
lesson.check(
    "MWS as published minus constant-free MWS equals (D - 1) log(N M)",
    abs(tc["mws"] - tc["mws-noconst"] - constant) < 1e-8,
    f"{tc['mws'] - tc['mws-noconst']:.6f} vs {constant:.6f}",
)

# %% As D grows: mean and spread over repeats
print(f"\nTC in nats as D grows (sigma = {sigma}, N = {N}, M = {M}, mean over {repeats} batches):")
keys = ("population", "exact", *methods)
print(f"{'D':>3}" + "".join(f"{k:>13}" for k in keys))
table = {}
for D in dims:
    runs = [one_batch(D, rng) for _ in range(repeats)]
    table[D] = {k: np.array([r[k] for r in runs]) for k in keys}
    print(f"{D:>3}" + "".join(f"{table[D][k].mean():>13.2f}" for k in keys))
print(
    "\nThe population TC is 0 at every D (the means are independent), but the finite mixture's TC"
    "\ngrows like D log(1/sigma) - log N: N narrow bumps are far from a product of marginals."
    "\nMSS tracks that exact finite-dataset TC, so against the population TC it 'overestimates';"
    "\nMWS as published sits far above both, and MWS without constants far below both."
)
lesson.numbers["tc_by_dim"] = {
    str(D): {k: float(v.mean()) for k, v in row.items()} for D, row in table.items()
}

# %% Figure: estimates vs D against both references, and the weights
fig, axes = new_figure(1, 4, 14.0, 4.6, width_ratios=[2.4, 1, 1, 1])
ax = axes[0, 0]
for k in keys:
    mean = np.array([table[D][k].mean() for D in dims])
    std = np.array([table[D][k].std(ddof=1) for D in dims])
    ls = "--" if k in ("population", "exact") else "-"
    ax.plot(dims, mean, ls=ls, marker="o", ms=3, color=COLOURS[k], label=LABELS[k])
    ax.fill_between(dims, mean - std, mean + std, color=COLOURS[k], alpha=0.2, lw=0)
symlog_errors(ax)  # values from -100 to +150 nats
ax.set_xlabel("latent dimension D")
ax.set_ylabel("TC, nats (symlog)")
ax.set_title(f"(a) estimates vs D ($\\sigma$ = {sigma}, N = {N}, M = {M})")
ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3)
for col, method in enumerate(("mws", "mss1", "mss0"), start=1):
    W = np.exp(minirtc.log_weight_matrix(method, small_M, small_N))
    image = axes[0, col].imshow(np.log10(W), cmap="viridis", vmin=-3.5, vmax=0)
    for (i, j), w in np.ndenumerate(W):  # the values themselves: 0.24 and 0.25 look alike in colour
        axes[0, col].text(j, i, f"{w:.3f}".lstrip("0"), ha="center", va="center", fontsize=6.5, color="white")
    axes[0, col].set_title(f"({'bcd'[col - 1]}) {LABELS[method]}", fontsize=8.5)
    axes[0, col].set_xlabel("posterior j")
    axes[0, col].set_ylabel("sample i")
    axes[0, col].grid(False)
fig.colorbar(image, ax=axes[0, 1:], shrink=0.7, label="log$_{10}$ W[i, j]  (M = 5, N = 100)")
figure = save_figure(fig, args.out / "02_minibatch_estimators.png")
print(f"figure: {figure}")

# %% The claims this example teaches
D = 10 if 10 in table else max(dims)
error_mss1 = np.abs(table[D]["mss1"] - table[D]["exact"]).mean()
error_mss0 = np.abs(table[D]["mss0"] - table[D]["exact"]).mean()
lesson.numbers |= {
    "dim": D,
    "mean_abs_error_mss1_vs_exact": error_mss1,
    "mean_abs_error_mss0_vs_exact": error_mss0,
}
lesson.check(
    f"MSS1 lands closer to the exact finite-dataset TC than MSS0 at D = {D}",
    error_mss1 < error_mss0,
    f"mean |MSS1 - exact| = {error_mss1:.3f} vs mean |MSS0 - exact| = {error_mss0:.3f} nats",
)
gap = table[D]["exact"].mean() - table[D]["population"].mean()
lesson.check(
    f"with sigma = {sigma} the exact finite-dataset TC is far (> 5 nats) from the population TC at D = {D}",
    gap > 5.0,
    f"exact - population = {gap:.2f} nats",
)
sys.exit(lesson.finish(args.out))
