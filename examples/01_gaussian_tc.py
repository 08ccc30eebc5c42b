"""Example 1: the total correlation of a Gaussian, computed two ways (Proposition 1).

    python examples/01_gaussian_tc.py [--quick] [--seed N] [--out DIR]

Total correlation measures how far a joint distribution is from the product of
its marginals:

    TC(x) = KL( p(x) || prod_k p(x_k) ) = E_p[ log p(x) - sum_k log p(x_k) ].

For x ~ N(m, S) it has a closed form (the paper's Proposition 1, docs/estimators.md#closed-form-gaussian-tc):

    TC(x) = 0.5 * ( sum_k log S_kk - log det S ).

This example computes both sides -- the formula and a Monte Carlo average of
the log-density ratio -- and shows what they say about correlated latents.
NumPy only; runs in seconds.
"""

# %% Setup
import sys

import numpy as np
from scipy.stats import multivariate_normal

import minirtc
from minirtc.experiments.figures import new_figure, save_figure
from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.experiments.synthetic import equicorrelation

args = lesson_args(__doc__.splitlines()[0])
single_threaded_blas()  # small matrices: one BLAS thread is fastest
rng = np.random.default_rng(args.seed)
num_samples = 20_000 if args.quick else 200_000
lesson = Lesson("01_gaussian_tc")
print(
    "Total correlation TC(x) = KL(p(x) || prod_k p(x_k)): how far x is from having independent coordinates."
)


# %% Monte Carlo: average the log-density ratio over samples of p(x)
def monte_carlo_tc(S: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and standard error of log p(x) - sum_k log p(x_k) over n samples x ~ N(0, S)."""
    x = rng.multivariate_normal(np.zeros(len(S)), S, size=n)  # (n, D)
    log_p_joint = multivariate_normal(np.zeros(len(S)), S).logpdf(x)  # (n,)  log p(x)
    log_var = np.log(np.diag(S))  # (D,)  the marginals are N(0, S_kk)
    log_p_marginals = minirtc.log_normal(x, 0.0, log_var).sum(axis=1)  # (n,)  sum_k log p(x_k)
    ratio = log_p_joint - log_p_marginals  # (n,)
    return float(ratio.mean()), float(ratio.std(ddof=1) / np.sqrt(n))


# %% Two ways, side by side: 2-D Gaussians with correlation rho, then 5-D equicorrelated ones
print(f"\nClosed form vs Monte Carlo ({num_samples} samples), in nats:")
print(f"{'covariance':<34}{'closed form':>12}{'Monte Carlo':>20}")
cases = {}
for rho in (0.0, 0.5, 0.9, 0.99):
    cases[f"2-D, rho = {rho:g}"] = np.array([[1.0, rho], [rho, 1.0]])
for rho in (0.3, 0.8):
    cases[f"5-D equicorrelation rho = {rho:g}"] = equicorrelation(5, rho)
cases["2-D, rho = 0.9, scaled (4, 0.01)"] = (
    np.diag([2.0, 0.1]) @ cases["2-D, rho = 0.9"] @ np.diag([2.0, 0.1])
)
results = {}
for name, S in cases.items():
    closed = minirtc.gaussian_tc(S) + 0.0  # + 0.0 turns -0.0 into 0.0 for printing
    mc, se = monte_carlo_tc(S, num_samples, rng)
    results[name] = {"closed_form": closed, "monte_carlo": mc, "standard_error": se}
    print(f"{name:<34}{closed:>12.4f}{mc:>12.4f} +- {se:.4f}")
    lesson.check(
        f"Monte Carlo agrees with Proposition 1 for {name}",
        abs(mc - closed) < 4 * se + 1e-3,
        f"|{mc:.4f} - {closed:.4f}| vs 4 SE = {4 * se:.4f}",
    )
lesson.numbers["tc"] = results

# %% What correlation means
r2 = results["2-D, rho = 0.9"]["closed_form"]
print(
    "\nWhat the numbers say:"
    "\n- rho = 0 gives TC = 0: for a Gaussian, uncorrelated means independent."
    f"\n- In 2-D, TC = -0.5 log(1 - rho^2) (= {-0.5 * np.log(1 - 0.81):.4f} at rho = 0.9): the mutual"
    " information between the two coordinates."
    "\n- TC grows without bound as rho -> 1 (a line has no density in the plane)."
    "\n- Rescaling coordinates does not change TC: it depends on the correlation matrix only"
    f" ({r2:.4f} before and {results['2-D, rho = 0.9, scaled (4, 0.01)']['closed_form']:.4f} after)."
)
lesson.check(
    "TC depends only on the correlation matrix (rescaled axes, same TC)",
    abs(results["2-D, rho = 0.9, scaled (4, 0.01)"]["closed_form"] - r2) < 1e-9,
    "closed forms equal to 1e-9",
)
lesson.check(
    "2-D closed form equals -0.5 log(1 - rho^2)",
    abs(r2 - (-0.5 * np.log(1 - 0.81))) < 1e-12,
    f"{r2:.6f}",
)

# %% Figure: TC against rho, and what rho = 0.9 looks like
rhos = np.linspace(0.0, 0.995, 200)
fig, axes = new_figure(1, 2, 9.5, 3.8)
ax = axes[0, 0]
ax.plot(
    rhos, [minirtc.gaussian_tc(np.array([[1, r], [r, 1]])) for r in rhos], color="black", label="closed form"
)
mc_rhos = [0.0, 0.5, 0.9, 0.99]
ax.errorbar(
    mc_rhos,
    [results[f"2-D, rho = {r:g}"]["monte_carlo"] for r in mc_rhos],
    yerr=[4 * results[f"2-D, rho = {r:g}"]["standard_error"] for r in mc_rhos],
    fmt="o",
    color="tab:red",
    capsize=3,
    label="Monte Carlo ($\\pm$4 SE)",
)
ax.set_xlabel("correlation $\\rho$")
ax.set_ylabel("TC, nats")
ax.set_title("(a) 2-D Gaussian: TC = $-\\frac{1}{2}\\log(1-\\rho^2)$")
ax.legend()
ax = axes[0, 1]
for rho, colour in ((0.0, "tab:blue"), (0.9, "tab:red")):
    x = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=1500)
    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.35, color=colour, label=f"$\\rho$ = {rho:g}: TC = "
               f"{results[f'2-D, rho = {rho:g}']['closed_form']:.2f} nats")  # fmt: skip
ax.set_aspect("equal")
ax.set_ylim(-4.0, 6.0)  # room for the legend above the points
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_title("(b) samples: independent vs correlated")
ax.legend(loc="upper left", markerscale=4)
figure = save_figure(fig, args.out / "01_gaussian_tc.png")
print(f"figure: {figure}")

# %% The claim this example teaches
sys.exit(lesson.finish(args.out))
