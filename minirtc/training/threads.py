"""How many BLAS threads a training run uses: one for the NumPy backend, unless the user says.

The NumPy backend's matrices are small (a batch of 64 against a few hundred
hidden units): a second BLAS thread gains little on an idle laptop and, on one
that is busy, threads that wait for a core cost several times the work they
share (docs/training.md).  So a NumPy-backend run limits BLAS to one thread
while it trains, unless OMP_NUM_THREADS, OPENBLAS_NUM_THREADS or MKL_NUM_THREADS
is set: a count chosen by the user always wins.  The torch backend sets its own
threads and is left alone.
"""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CLASSROOM_BLAS_THREADS = 1


def user_chose_threads() -> bool:
    """True when the environment names a BLAS/OpenMP thread count."""
    return any(os.environ.get(name) for name in THREAD_VARIABLES)


def training_threads(backend: str) -> AbstractContextManager:
    """A context limiting BLAS to CLASSROOM_BLAS_THREADS while a NumPy-backend run trains."""
    if backend != "numpy" or user_chose_threads():
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=CLASSROOM_BLAS_THREADS, user_api="blas")
