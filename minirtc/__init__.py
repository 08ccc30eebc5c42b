"""minirtc: RTC-VAE and the total-correlation family of disentangled VAEs.

The core math is written once (this package's top-level modules) against a
small operations interface (`minirtc.ops`) and runs on NumPy/autograd and on
torch; `minirtc.backends` holds the two implementations and their models.

Public API (docs/theory.md, docs/estimators.md):
    log_normal, kl_normal, bernoulli_log_likelihood        densities.py
    log_weight_matrix, decompose, exact_log_qz, decompose_exact   estimators.py
    variance_penalty, dip_penalty                          penalties.py
    permute_dims, discriminator_tc, discriminator_loss     density_ratio.py
    gaussian_tc, gaussian_tc_of_samples                    gaussian.py
    ObjectiveConfig, objective, term_weights, MODELS       objectives.py
"""

from minirtc.densities import (
    bernoulli_log_likelihood,
    gaussian_log_likelihood,
    kl_normal,
    log_normal,
    log_standard_normal,
)
from minirtc.density_ratio import (
    discriminator_accuracy,
    discriminator_loss,
    discriminator_tc,
    permute_dims,
)
from minirtc.estimators import (
    METHODS,
    MixtureLogDensity,
    TCDecomposition,
    decompose,
    decompose_exact,
    exact_log_qz,
    log_weight_matrix,
)
from minirtc.gaussian import gaussian_tc, gaussian_tc_of_samples
from minirtc.objectives import (
    MODELS,
    TC_ESTIMATORS,
    Objective,
    ObjectiveConfig,
    objective,
    term_weights,
)
from minirtc.penalties import batch_covariance, dip_penalty, variance_penalty

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "MODELS",
    "TC_ESTIMATORS",
    "MixtureLogDensity",
    "Objective",
    "ObjectiveConfig",
    "TCDecomposition",
    "batch_covariance",
    "bernoulli_log_likelihood",
    "decompose",
    "decompose_exact",
    "dip_penalty",
    "discriminator_accuracy",
    "discriminator_loss",
    "discriminator_tc",
    "exact_log_qz",
    "gaussian_log_likelihood",
    "gaussian_tc",
    "gaussian_tc_of_samples",
    "kl_normal",
    "log_normal",
    "log_standard_normal",
    "log_weight_matrix",
    "objective",
    "permute_dims",
    "term_weights",
    "variance_penalty",
]
