"""minirtc.metrics: the disentanglement metrics of docs/metrics.md, with Locatello et al. 2019 defaults.

Each metric has an array-level core (factors (n, K) int, codes (n, D) float) and a
dataset-level `compute_*` function that draws points from a ground-truth dataset
(`minirtc.data.base.GroundTruthDataset`), encodes them with a representation
function `images uint8 (B, H, W, C) -> codes (B, D)` in batches, and calls the core.
Randomness always comes from an `np.random.Generator` argument.

    discretize.py          histogram_discretize, discrete_mutual_info, discrete_entropy
    sampling.py            sample_codes, encode_factors, varying_factors, RepresentationError
    mig.py                 mig, compute_mig                              Chen et al. 2018
    sap.py                 sap, compute_sap                              Kumar et al. 2018
    dci.py                 dci, compute_dci                              Eastwood & Williams 2018
    modularity.py          modularity_explicitness, compute_modularity_explicitness   Ridgeway & Mozer 2018
    beta_vae.py            beta_vae_score, compute_beta_vae              Higgins et al. 2017
    factor_vae.py          factor_vae_score, compute_factor_vae          Kim & Mnih 2018
    unsupervised.py        unsupervised_scores, unsupervised_metrics     Gaussian TC, W. corr., MI, AU
    elbo_decomposition.py  elbo_decomposition, compute_elbo_decomposition   Chen et al. 2018
    suite.py               evaluate_representation, METRICS, format_table
"""

from minirtc.metrics.beta_vae import beta_vae_features, beta_vae_score, compute_beta_vae
from minirtc.metrics.dci import completeness, compute_dci, dci, disentanglement, importance_matrix
from minirtc.metrics.discretize import discrete_entropy, discrete_mutual_info, histogram_discretize
from minirtc.metrics.elbo_decomposition import compute_elbo_decomposition, elbo_decomposition
from minirtc.metrics.factor_vae import compute_factor_vae, factor_vae_score, factor_vae_votes
from minirtc.metrics.mig import compute_mig, mig, mutual_info_gaps
from minirtc.metrics.modularity import (
    compute_modularity_explicitness,
    explicitness,
    modularity_explicitness,
    modularity_from_mi,
)
from minirtc.metrics.sampling import RepresentationError, encode_factors, sample_codes, varying_factors
from minirtc.metrics.sap import compute_sap, sap
from minirtc.metrics.suite import METRICS, evaluate_representation, format_table, metric_rng
from minirtc.metrics.unsupervised import (
    active_units,
    gaussian_scores,
    unsupervised_metrics,
    unsupervised_scores,
    wasserstein_correlation,
)

__all__ = [
    "METRICS",
    "RepresentationError",
    "active_units",
    "beta_vae_features",
    "beta_vae_score",
    "completeness",
    "compute_beta_vae",
    "compute_dci",
    "compute_elbo_decomposition",
    "compute_factor_vae",
    "compute_mig",
    "compute_modularity_explicitness",
    "compute_sap",
    "dci",
    "discrete_entropy",
    "discrete_mutual_info",
    "disentanglement",
    "elbo_decomposition",
    "encode_factors",
    "evaluate_representation",
    "explicitness",
    "factor_vae_score",
    "factor_vae_votes",
    "format_table",
    "gaussian_scores",
    "histogram_discretize",
    "importance_matrix",
    "metric_rng",
    "mig",
    "modularity_explicitness",
    "modularity_from_mi",
    "mutual_info_gaps",
    "sample_codes",
    "sap",
    "unsupervised_metrics",
    "unsupervised_scores",
    "varying_factors",
    "wasserstein_correlation",
]
