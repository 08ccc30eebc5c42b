"""E2 (paper Fig. 2, Theorem 1): bounded TC(z) while TC(mu) grows without bound.

Three parts (docs/theory.md#theorem-1, docs/experiments.md; paper sec. 2 and 5.3):

1. Closed forms.  mu ~ N(0, S_rho) (equicorrelation rho) has
   TC(mu) = -0.5 log det S_rho -> inf as rho -> 1, while z | mu ~ N(mu, c^2 I)
   gives z ~ N(0, S_rho + c^2 I) with TC(z) < 0.5 D log((1 + c^2) / c^2).
2. Monte Carlo.  A posterior width sigma'(mu) that varies as in eq. (1),
   sigma'_j(mu) = c (1 + tanh(mu_j) / 2) min(1, (R / |mu|)^l), makes z
   non-Gaussian; TC(z) is estimated by scoring samples under an independent
   bank of posteriors (`minirtc.exact_log_qz`).  The same estimate for a constant
   width c is checked against its closed form.
3. A shut-down dimension.  One latent's posterior equals the prior (mu = 0,
   sigma = 1 for every item).  What do MWS, MSS and the discriminator report,
   against the population and the exact finite-dataset TC?  The paper (sec. 5.3)
   claims the minibatch estimators reward it; this measures it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

import minirtc
from minirtc.experiments.discriminator import DiscriminatorConfig, discriminator_tc_of, train_discriminator
from minirtc.experiments.estimators import CHUNK, MINIBATCH_METHODS
from minirtc.experiments.synthetic import draw_normal, equicorrelation, gaussian_latents, theorem1_bound

WidthFn = Callable[[np.ndarray], np.ndarray]  # mu (n, D) -> sigma'(mu) (n, D)
SHUTDOWN_CASES = ("all active", "one shut down", "low-variance mean", "shut down and correlated")
SHUTDOWN_ESTIMATORS = (*MINIBATCH_METHODS, "discriminator")
REWARD_TOLERANCE = 0.25  # nats: smaller estimate-vs-truth differences count as "no effect"
MC_PART, SHUTDOWN_PART, FIG2_PART = 1, 2, 3  # first word of each part's random stream


@dataclass(frozen=True)
class Theorem1Config:
    """Scale and settings of E2.  `quick()` gives a seconds-long version."""

    latent_dim: int = 10  # D of the closed-form curves
    widths: tuple[float, ...] = (0.25, 0.5, 1.0)  # posterior widths c of the closed-form curves
    log10_gaps: tuple[float, ...] = tuple(np.round(np.arange(0.0, -8.01, -0.25), 2))  # rho = 1 - 10^gap
    mc_dim: int = 4  # D of the Monte Carlo part (the bank's density estimate needs a small D)
    mc_width: float = 0.5  # c in sigma'(mu)
    mc_power: float = 1.0  # l in eq. (1)
    mc_rhos: tuple[float, ...] = (0.0, 0.5, 0.9, 0.99, 0.999, 0.9999)
    mc_bank: int = 8000  # posteriors that define the Monte Carlo density of z
    mc_samples: int = 1000  # z samples the TC is averaged over
    mc_repeats: int = 3
    shutdown_dim: int = 10  # D of the shut-down study
    shutdown_sigma: float = 0.1  # posterior width of the active dimensions (paper: 0.1)
    shutdown_dataset_size: int = 2048  # N
    shutdown_batch_size: int = 256  # M
    shutdown_repeats: int = 5
    discriminator: DiscriminatorConfig | None = field(default_factory=DiscriminatorConfig)  # None: skip
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latent_dim < 2 or self.mc_dim < 2 or self.shutdown_dim < 3:
            raise ValueError("latent_dim and mc_dim must be >= 2 and shutdown_dim >= 3")
        if not self.widths or min(self.widths) <= 0 or self.mc_width <= 0 or self.shutdown_sigma <= 0:
            raise ValueError("every posterior width (widths, mc_width, shutdown_sigma) must be > 0")
        if any(g > 0 for g in self.log10_gaps) or any(not 0 <= r < 1 for r in self.mc_rhos):
            raise ValueError("log10_gaps must be <= 0 and mc_rhos in [0, 1)")
        if min(self.mc_bank, self.mc_samples, self.mc_repeats, self.shutdown_repeats) < 1:
            raise ValueError("mc_bank, mc_samples, mc_repeats and shutdown_repeats must be >= 1")
        if not 2 <= self.shutdown_batch_size <= self.shutdown_dataset_size:
            raise ValueError(
                f"shutdown_batch_size must be in [2, shutdown_dataset_size={self.shutdown_dataset_size}], "
                f"got {self.shutdown_batch_size}"
            )

    @classmethod
    def quick(cls, **overrides) -> Theorem1Config:
        small = cls(
            log10_gaps=tuple(np.round(np.arange(0.0, -8.01, -1.0), 2)),
            mc_rhos=(0.0, 0.9, 0.999),
            mc_bank=2000,
            mc_samples=300,
            mc_repeats=2,
            shutdown_dataset_size=1024,
            shutdown_batch_size=128,
            shutdown_repeats=2,
            discriminator=DiscriminatorConfig.quick(),
        )
        return replace(small, **overrides)

    @property
    def mc_radius(self) -> float:
        """R in eq. (1): the typical norm sqrt(D) of mu, so both branches of eq. (1) are visited."""
        return math.sqrt(self.mc_dim)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------
# 1. Closed forms
# ---------------------------------------------------------------------------


def closed_form_rows(config: Theorem1Config) -> list[dict]:
    """TC(mu), TC(z) and the bound for every rho = 1 - 10^gap and width c (Proposition 1)."""
    D, rows = config.latent_dim, []
    for gap in config.log10_gaps:
        rho = rho_of_gap(gap)
        S_rho = equicorrelation(D, rho)  # (D, D)
        for c in config.widths:
            rows.append(
                {
                    "latent_dim": D,
                    "rho": rho,
                    "one_minus_rho": 1.0 - rho,
                    "c": c,
                    "tc_mu": minirtc.gaussian_tc(S_rho),
                    "tc_z": minirtc.gaussian_tc(S_rho + c * c * np.eye(D)),
                    "bound": theorem1_bound(D, c),
                }
            )
    return rows


# ---------------------------------------------------------------------------
# 2. Monte Carlo for a varying sigma'(mu)
# ---------------------------------------------------------------------------


def constant_width(mu: np.ndarray, c: float) -> np.ndarray:
    """sigma'(mu) = c in every dimension: z is Gaussian and its TC has a closed form."""
    return np.full(mu.shape, float(c))


def eq1_width(mu: np.ndarray, c: float, radius: float, power: float) -> np.ndarray:
    """sigma'_j(mu) = c (1 + tanh(mu_j) / 2) min(1, (R / |mu|)^l)  (n, D): satisfies eq. (1).

    Inside |mu| < R it lies in (c/2, 3c/2) (c_1, c_2); outside it is below 3c/2 (c_3)
    and above (c/2) R^l / |mu|^l (c_4 = c R^l / 2), decaying like |mu|^-l.
    """
    norm = np.linalg.norm(mu, axis=1, keepdims=True)  # (n, 1)
    shrink = np.minimum(1.0, (radius / np.maximum(norm, 1e-300)) ** power)  # (n, 1)
    return c * (1.0 + 0.5 * np.tanh(mu)) * shrink


def monte_carlo_tc(
    rng: np.random.Generator, cov_mu: np.ndarray, width: WidthFn, bank_size: int, num_samples: int
) -> float:
    """TC(z) of z ~ N(mu, diag(width(mu)^2)), mu ~ N(0, cov_mu), by Monte Carlo (nats).

    p(z) = E_mu N(z; mu, diag sigma'(mu)^2) is replaced by its average over an
    independent bank of mu's; the z's come from other mu's, so no sample scores
    its own component.  log of an average is biased low (Jensen), more for the
    joint than for the 1-D marginals, so this estimate leans low.
    """
    bank_mu = draw_normal(rng, bank_size, cov_mu)  # (B, D)
    bank_logvar = 2.0 * np.log(width(bank_mu))  # (B, D)
    mu = draw_normal(rng, num_samples, cov_mu)  # (S, D)
    z = mu + width(mu) * rng.standard_normal(mu.shape)  # (S, D)
    mixture = minirtc.exact_log_qz(z, bank_mu, bank_logvar, chunk_size=4 * CHUNK)
    return float(np.mean(mixture.log_qz - np.sum(mixture.log_qz_marginals, axis=1)))


def monte_carlo_rows(config: Theorem1Config) -> list[dict]:
    """MC TC(z) for the constant width c and for eq. (1)'s sigma'(mu), at every rho and repeat."""
    D, c = config.mc_dim, config.mc_width
    widths = {
        "constant c": functools.partial(constant_width, c=c),
        "eq. (1) sigma'(mu)": functools.partial(
            eq1_width, c=c, radius=config.mc_radius, power=config.mc_power
        ),
    }
    rows = []
    for rho in config.mc_rhos:
        S_rho = equicorrelation(D, rho)
        for kind, width in widths.items():
            for repeat in range(config.mc_repeats):
                rng = _rng(config.seed, MC_PART, round(rho * 1e6), kind == "constant c", repeat)
                rows.append(
                    {
                        "latent_dim": D,
                        "rho": rho,
                        "width": kind,
                        "c": c,
                        "repeat": repeat,
                        "tc_z_monte_carlo": monte_carlo_tc(
                            rng, S_rho, width, config.mc_bank, config.mc_samples
                        ),
                        "tc_z_closed_form": (
                            minirtc.gaussian_tc(S_rho + c * c * np.eye(D))
                            if kind == "constant c"
                            else math.nan
                        ),
                        "tc_mu": minirtc.gaussian_tc(S_rho),
                        "bound_constant_c": theorem1_bound(D, c),
                    }
                )
    return rows


# ---------------------------------------------------------------------------
# 3. A shut-down dimension
# ---------------------------------------------------------------------------


def shutdown_case(name: str, latent_dim: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(cov_mu (D, D), posterior widths (D,)) of one case; dimension 0 is the one that changes.

    - "all active": mu ~ N(0, I), every width sigma.
    - "one shut down": dimension 0 has mu = 0 and width 1 for every item: q(z_0|n) = p(z_0).
    - "low-variance mean": mu_0 ~ N(0, 0.01), width sigma (the paper's sec. 5.3 example).
    - "shut down and correlated": mu_0 = -0.1 mu_1 exactly (the paper's Fig. 2 covariance
      [[0.01, -0.1], [-0.1, 1]], singular: TC(mu) = inf) and width 1 on dimension 0.
    """
    D = latent_dim
    cov_mu, widths = np.eye(D), np.full(D, float(sigma))
    if name == "all active":
        pass
    elif name == "one shut down":
        cov_mu[0, 0], widths[0] = 0.0, 1.0
    elif name == "low-variance mean":
        cov_mu[0, 0] = 0.01
    elif name == "shut down and correlated":
        cov_mu[:2, :2] = [[0.01, -0.1], [-0.1, 1.0]]
        widths[0] = 1.0
    else:
        raise ValueError(f"case must be one of {list(SHUTDOWN_CASES)}, got {name!r}")
    return cov_mu, widths


def tc_of_means(cov_mu: np.ndarray) -> float:
    """Gaussian TC(mu) over the dimensions whose mean varies (a constant mean is independent of all)."""
    active = np.diag(cov_mu) > 0
    return minirtc.gaussian_tc(cov_mu[np.ix_(active, active)]) if active.sum() > 1 else 0.0


def shutdown_rows(config: Theorem1Config) -> list[dict]:
    """Every estimator and both references for each case and repeat (one row each)."""
    D, N, M = config.shutdown_dim, config.shutdown_dataset_size, config.shutdown_batch_size
    rows = []
    for case in SHUTDOWN_CASES:
        cov_mu, widths = shutdown_case(case, D, config.shutdown_sigma)
        for repeat in range(config.shutdown_repeats):
            rng = _rng(config.seed, SHUTDOWN_PART, SHUTDOWN_CASES.index(case), repeat)
            latents = gaussian_latents(rng, N, cov_mu, widths)
            z, mu, logvar = latents.batch(rng, M)  # (M, D)
            row = {
                "case": case,
                "repeat": repeat,
                "latent_dim": D,
                "sigma": config.shutdown_sigma,
                "dataset_size": N,
                "batch_size": M,
                "tc_mu": tc_of_means(cov_mu),
                "tc_population": latents.population_tc(),
                "tc_exact": float(
                    minirtc.decompose_exact(z, mu, logvar, latents.mu, latents.logvar, chunk_size=CHUNK).tc
                ),
            }
            for method in MINIBATCH_METHODS:
                row[f"tc_{method}"] = float(minirtc.decompose(z, mu, logvar, N, method, chunk_size=CHUNK).tc)
            row["tc_discriminator"] = math.nan
            if config.discriminator is not None:
                disc, _ = train_discriminator(rng, latents.draw, D, config.discriminator)
                row["tc_discriminator"] = discriminator_tc_of(disc, z)
            rows.append(row)
    return rows


def shutdown_effects(rows: Sequence[dict]) -> list[dict]:
    """For each case vs "all active": the change of each estimate and of each reference (nats).

    `reward_vs_<ref>` = (estimate change) - (reference change): negative means the
    estimator reports a larger drop than the truth, i.e. it rewards the case.
    Mean and std over repeats (repeat r of a case is paired with repeat r of "all active").
    """
    base = {r["repeat"]: r for r in rows if r["case"] == "all active"}
    effects = []
    for case in SHUTDOWN_CASES[1:]:
        chosen = [r for r in rows if r["case"] == case and r["repeat"] in base]
        if not chosen:
            continue
        for estimator in SHUTDOWN_ESTIMATORS:
            change = np.array([r[f"tc_{estimator}"] - base[r["repeat"]][f"tc_{estimator}"] for r in chosen])
            entry = {"case": case, "estimator": estimator, "n": len(chosen)}
            entry |= mean_std("estimate_change", change)
            for reference in ("population", "exact"):
                truth = np.array(
                    [r[f"tc_{reference}"] - base[r["repeat"]][f"tc_{reference}"] for r in chosen]
                )
                entry |= mean_std(f"{reference}_change", truth)
                entry |= mean_std(f"reward_vs_{reference}", change - truth)
            effects.append(entry)
    return effects


# ---------------------------------------------------------------------------
# Everything, and its summary
# ---------------------------------------------------------------------------


def fig2_sample(config: Theorem1Config, num_items: int = 2000) -> dict[str, np.ndarray]:
    """Means and samples of dimensions (1, 0) in the "shut down and correlated" case (paper Fig. 2).

    mu is a line (TC(mu) = inf); z = mu + noise fills the plane (TC(z) small).
    """
    cov_mu, widths = shutdown_case("shut down and correlated", config.shutdown_dim, config.shutdown_sigma)
    latents = gaussian_latents(_rng(config.seed, FIG2_PART), num_items, cov_mu, widths)
    z = latents.sample(_rng(config.seed, FIG2_PART, 1), np.arange(num_items))[0]
    return {"mu": latents.mu[:, [1, 0]], "z": z[:, [1, 0]]}  # (n, 2) each: (dim 1, dim 0)


@dataclass(frozen=True)
class Theorem1Results:
    closed_form: list[dict]
    monte_carlo: list[dict]
    shutdown: list[dict]
    fig2: dict[str, np.ndarray]  # "mu", "z": (n, 2) samples for the Fig. 2 scatter


def run_theorem1(config: Theorem1Config) -> Theorem1Results:
    """Compute all three parts of E2 (NumPy only; the seed fixes every number)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small matrices: extra BLAS threads only add overhead
        return Theorem1Results(
            closed_form_rows(config), monte_carlo_rows(config), shutdown_rows(config), fig2_sample(config)
        )


def mean_std(name: str, values: np.ndarray) -> dict:
    """{name_mean, name_std} over the finite values (NaN when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {f"{name}_mean": math.nan, f"{name}_std": math.nan}
    return {
        f"{name}_mean": float(np.mean(finite)),
        f"{name}_std": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
    }


def rho_of_gap(log10_gap: float) -> float:
    """rho = 1 - 10^gap, except that gap 0 stands for rho = 0 (independent means)."""
    return 1.0 - 10.0**log10_gap if log10_gap < 0 else 0.0


def _rng(seed: int, *key: int) -> np.random.Generator:
    """A generator fixed by the seed and integers naming the computation (not by run order)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=[int(k) for k in key]))
