"""The minibatch estimators against docs/estimators.md read literally: brute-force loops, weights, chunking.

The reference weights below are built from the formulas of docs/estimators.md, entry by entry,
never by calling
`log_weight_matrix`; the reference estimates are plain Python loops over (i, j, k) with
math.log / math.exp.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import minirtc

M, D, N = 5, 3, 20  # tiny: batch, latents, dataset size


def spec_weights(method: str, M: int, N: int) -> list[list[float]]:
    """W[i][j] (not log) exactly as docs/estimators.md describes each estimator."""
    if method == "mws":
        return [[1.0 / (N * M)] * M for _ in range(M)]
    if method == "mws-noconst":
        return [[1.0] * M for _ in range(M)]
    M_prime = M - 1
    strat = (N - M_prime) / (N * M_prime)
    if method == "mss1":
        W = [[1.0 / M_prime] * M for _ in range(M)]
        for i in range(M):
            W[i][i] = 1.0 / N
            W[i][(i + 1) % M] = strat
        return W
    assert method == "mss0"
    flat = [1.0 / M_prime] * (M * M)  # the row-major flattened matrix
    for position in range(0, M * M, M):  # 0, M, 2M, ...
        flat[position] = 1.0 / N
    for position in range(1, M * M, M):  # 1, 1+M, 1+2M, ...
        flat[position] = strat
    W = [flat[i * M : (i + 1) * M] for i in range(M)]
    W[M_prime - 1][0] = strat
    return W


def normal_density(x: float, mu: float, logvar: float) -> float:
    var = math.exp(logvar)
    return math.exp(-((x - mu) ** 2) / (2.0 * var)) / math.sqrt(2.0 * math.pi * var)


def brute_force(z, mu, logvar, W) -> dict[str, object]:
    """log q(z_i), log q(z_ik), MI, TC, dimKL by loops over i, j, k (docs/estimators.md formulas)."""
    M, D = len(z), len(z[0])
    log_qz, log_qz_marginals, log_q_zx = [], [], []
    for i in range(M):
        joint = 0.0
        marginals = [0.0] * D
        for j in range(M):
            product = 1.0
            for k in range(D):
                density = normal_density(z[i][k], mu[j][k], logvar[j][k])
                product *= density
                marginals[k] += W[i][j] * density
            joint += W[i][j] * product
        log_qz.append(math.log(joint))
        log_qz_marginals.append([math.log(m) for m in marginals])
        log_q_zx.append(sum(math.log(normal_density(z[i][k], mu[i][k], logvar[i][k])) for k in range(D)))
    log_pz = [[-0.5 * math.log(2 * math.pi) - 0.5 * z[i][k] ** 2 for k in range(D)] for i in range(M)]
    return {
        "log_q_zx": log_q_zx,
        "log_qz": log_qz,
        "log_qz_marginals": log_qz_marginals,
        "mi": sum(log_q_zx[i] - log_qz[i] for i in range(M)) / M,
        "tc": sum(log_qz[i] - sum(log_qz_marginals[i]) for i in range(M)) / M,
        "dim_kl": sum(sum(log_qz_marginals[i][k] - log_pz[i][k] for k in range(D)) for i in range(M)) / M,
    }


def latents(seed: int, M: int = M, D: int = D, scale: float = 1.0):
    r = np.random.default_rng(seed)
    mu = scale * r.normal(size=(M, D))
    logvar = 0.5 * r.normal(size=(M, D))
    z = mu + np.exp(logvar / 2) * r.normal(size=(M, D))
    return z, mu, logvar


@pytest.mark.parametrize("method", minirtc.METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_decompose_equals_triple_loop(method: str, seed: int) -> None:
    z, mu, logvar = latents(seed)
    expected = brute_force(z.tolist(), mu.tolist(), logvar.tolist(), spec_weights(method, M, N))
    result = minirtc.decompose(z, mu, logvar, N, method=method)
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(result, name), value, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("method", minirtc.METHODS)
def test_log_weight_matrix_equals_spec_text(method: str) -> None:
    for batch, dataset in [(2, 2), (2, 9), (5, 5), (5, 20), (8, 1000)]:
        expected = np.log(np.array(spec_weights(method, batch, dataset)))
        np.testing.assert_allclose(minirtc.log_weight_matrix(method, batch, dataset), expected, rtol=1e-15)


@pytest.mark.parametrize(("batch", "dataset"), [(2, 2), (2, 7), (5, 5), (6, 20), (64, 1000)])
def test_row_sums(batch: int, dataset: int) -> None:
    """MSS1 rows sum to 1, MWS rows to 1/N, MSS0 rows to 1 except row M'-1 (docs/estimators.md)."""
    W = {m: np.exp(minirtc.log_weight_matrix(m, batch, dataset)) for m in minirtc.METHODS}
    np.testing.assert_allclose(W["mss1"].sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(W["mws"].sum(axis=1), 1.0 / dataset, rtol=1e-14)
    np.testing.assert_allclose(W["mws-noconst"].sum(axis=1), batch, rtol=1e-14)
    # MSS0: column 0 holds 1/N and column 1 the stand-in weight, which together make 1/M';
    # row M'-1 gets the stand-in weight in column 0 too, so it sums to 1 + 1/M' - 2/N.
    M_prime = batch - 1
    expected = np.ones(batch)
    expected[M_prime - 1] = 1.0 + 1.0 / M_prime - 2.0 / dataset
    np.testing.assert_allclose(W["mss0"].sum(axis=1), expected, rtol=1e-14)
    assert batch == 2 or not np.allclose(W["mss0"], W["mss1"])  # the quirk differs from the fix


def test_mws_noconst_is_mws_plus_log_nm() -> None:
    for batch, dataset in [(1, 1), (3, 10), (64, 737280)]:
        np.testing.assert_allclose(
            minirtc.log_weight_matrix("mws-noconst", batch, dataset),
            minirtc.log_weight_matrix("mws", batch, dataset) + math.log(batch * dataset),
            rtol=0,
            atol=1e-12,
        )


@pytest.mark.parametrize("D_", [1, 3, 10])
def test_mws_constant_shifts_tc_by_d_minus_one_log_nm(D_: int) -> None:
    z, mu, logvar = latents(4, M=16, D=D_)
    dataset = 50_000
    with_constants = minirtc.decompose(z, mu, logvar, dataset, method="mws")
    without = minirtc.decompose(z, mu, logvar, dataset, method="mws-noconst")
    shift = (D_ - 1) * math.log(16 * dataset)
    assert with_constants.tc - without.tc == pytest.approx(shift, abs=1e-11)
    # The constant enters log q(z) once and every log q(z_k) once.
    np.testing.assert_allclose(with_constants.log_qz, without.log_qz - math.log(16 * dataset), atol=1e-12)
    np.testing.assert_allclose(
        with_constants.log_qz_marginals, without.log_qz_marginals - math.log(16 * dataset), atol=1e-12
    )


def test_mws_on_the_whole_dataset_is_exact_up_to_log_m() -> None:
    """With M = N the batch IS the dataset, so MWS's 1/(N M) weights give q(z) / M exactly."""
    z, mu, logvar = latents(5, M=6, D=2)
    exact = minirtc.exact_log_qz(z, mu, logvar)
    mws = minirtc.decompose(z, mu, logvar, 6, method="mws")
    # MWS: log q_hat = log q - log M for the joint and every marginal.
    np.testing.assert_allclose(mws.log_qz, exact.log_qz - math.log(6), atol=1e-12)
    np.testing.assert_allclose(mws.log_qz_marginals, exact.log_qz_marginals - math.log(6), atol=1e-12)


@pytest.mark.parametrize("method", minirtc.METHODS)
@pytest.mark.parametrize(("batch", "chunk_size"), [(36, 6), (36, 5), (37, 1), (37, 8), (37, 37), (37, 100)])
def test_chunked_decompose_equals_unchunked(method: str, batch: int, chunk_size: int) -> None:
    z, mu, logvar = latents(6, M=batch, D=4)
    full = minirtc.decompose(z, mu, logvar, 500, method=method)
    chunked = minirtc.decompose(z, mu, logvar, 500, method=method, chunk_size=chunk_size)
    for name, a, b in zip(full._fields, full, chunked):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("chunk_size", [1, 7, 10, 49, 50, 51, 1000])
def test_chunked_exact_log_qz_equals_unchunked(chunk_size: int) -> None:
    r = np.random.default_rng(7)
    dataset_mu = r.normal(size=(50, 4))
    dataset_logvar = 0.3 * r.normal(size=(50, 4)) - 1.0
    z = dataset_mu[:13] + np.exp(dataset_logvar[:13] / 2) * r.normal(size=(13, 4))
    full = minirtc.exact_log_qz(z, dataset_mu, dataset_logvar)
    chunked = minirtc.exact_log_qz(z, dataset_mu, dataset_logvar, chunk_size=chunk_size)
    for name, a, b in zip(full._fields, full, chunked):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)


def test_exact_log_qz_equals_loop() -> None:
    """log q(z_i) = log (1/N) sum_n q(z_i|n), and per dimension, by loops."""
    r = np.random.default_rng(8)
    dataset_mu, dataset_logvar = r.normal(size=(9, 3)), 0.4 * r.normal(size=(9, 3))
    z = r.normal(size=(4, 3))
    uniform = [[1.0 / 9] * 9 for _ in range(4)]
    expected_joint, expected_marginals = [], []
    for i in range(4):
        joint = sum(
            uniform[i][n]
            * math.prod(normal_density(z[i, k], dataset_mu[n, k], dataset_logvar[n, k]) for k in range(3))
            for n in range(9)
        )
        marginal = [
            sum(
                uniform[i][n] * normal_density(z[i, k], dataset_mu[n, k], dataset_logvar[n, k])
                for n in range(9)
            )
            for k in range(3)
        ]
        expected_joint.append(math.log(joint))
        expected_marginals.append([math.log(m) for m in marginal])
    result = minirtc.exact_log_qz(z, dataset_mu, dataset_logvar, chunk_size=4)
    np.testing.assert_allclose(result.log_qz, expected_joint, rtol=1e-12)
    np.testing.assert_allclose(result.log_qz_marginals, expected_marginals, rtol=1e-12)


def test_decompose_exact_uses_the_full_mixture() -> None:
    z, mu, logvar = latents(9, M=6, D=3)
    r = np.random.default_rng(10)
    dataset_mu = np.concatenate([mu, r.normal(size=(20, 3))])
    dataset_logvar = np.concatenate([logvar, 0.5 * r.normal(size=(20, 3))])
    result = minirtc.decompose_exact(z, mu, logvar, dataset_mu, dataset_logvar, chunk_size=7)
    mixture = minirtc.exact_log_qz(z, dataset_mu, dataset_logvar)
    log_q_zx = np.sum(minirtc.log_normal(z, mu, logvar), axis=1)
    log_pz = minirtc.log_standard_normal(z)
    np.testing.assert_allclose(result.log_q_zx, log_q_zx, rtol=1e-13)
    assert result.mi == pytest.approx(np.mean(log_q_zx - mixture.log_qz), rel=1e-12)
    assert result.tc == pytest.approx(np.mean(mixture.log_qz - mixture.log_qz_marginals.sum(1)), rel=1e-12)
    assert result.dim_kl == pytest.approx(np.mean((mixture.log_qz_marginals - log_pz).sum(1)), rel=1e-12)


def test_narrow_posteriors_do_not_underflow() -> None:
    """Far-apart narrow posteriors: densities underflow in exp, the log-domain core must not."""
    z, mu, logvar = latents(11, M=8, D=10, scale=30.0)
    logvar = logvar - 12.0
    z = mu + np.exp(logvar / 2) * np.random.default_rng(12).normal(size=mu.shape)
    for method in minirtc.METHODS:
        result = minirtc.decompose(z, mu, logvar, 1000, method=method, chunk_size=3)
        assert all(np.all(np.isfinite(v)) for v in result), method


def traced_peak_bytes(fn) -> int:
    """Peak bytes allocated while fn runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("method", minirtc.METHODS)
def test_chunked_memory_is_bounded_by_the_chunk(method: str) -> None:
    """Bounded memory (docs/estimators.md#the-common-form): with chunk_size c, memory is O(c M D),
    not O(M^2): at M = 1024, D = 1,
    c = 32 a (c, M, D) slice is 256 KiB, while one (M, M) float64 matrix would be 8 MiB."""
    M_, D_, chunk = 1024, 1, 32
    z, mu, logvar = latents(13, M=M_, D=D_)
    slice_bytes = chunk * M_ * D_ * 8
    allowed = 16 * slice_bytes + 2**19  # 16 live slices, plus 0.5 MiB for the O(M D) outputs
    minirtc.decompose(z[:4], mu[:4], logvar[:4], 10)  # import the backend outside the trace
    peak = traced_peak_bytes(
        lambda: minirtc.decompose(z, mu, logvar, 10 * M_, method=method, chunk_size=chunk)
    )
    assert peak < allowed, f"decompose peaked at {peak / 2**20:.1f} MiB, allowed {allowed / 2**20:.1f} MiB"
    peak = traced_peak_bytes(lambda: minirtc.exact_log_qz(z, mu, logvar, chunk_size=chunk))
    assert peak < allowed, f"exact_log_qz peaked at {peak / 2**20:.1f} MiB, allowed {allowed / 2**20:.1f} MiB"
