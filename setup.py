"""minirtc: RTC-VAE and the total-correlation family of disentangled VAEs.

`backends/` is a top-level source folder installed under the import name
`minirtc.backends` (a different PyPI project already owns the name `backends`).
"""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
# The version lives in one place, minirtc/__init__.py; read as text so that setup never imports the package.
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "minirtc" / "__init__.py").read_text(), re.M)[1]

setup(
    name="minirtc",
    version=VERSION,
    description="Reference implementation of RTC-VAE and total-correlation VAEs "
    "(NumPy/autograd for teaching, torch for scale)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    classifiers=[
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    python_requires=">=3.9",
    packages=[
        "minirtc",
        "minirtc.data",
        "minirtc.metrics",
        "minirtc.training",
        "minirtc.experiments",
        "minirtc.experiments.sweep",
        "minirtc.cli",
        "minirtc.viz",
        "minirtc.backends",
    ],
    package_dir={"minirtc": "minirtc", "minirtc.backends": "backends"},
    install_requires=[
        "numpy>=1.22",
        "autograd>=1.6",
        "scipy>=1.8",
        "matplotlib>=3.5",
        "click>=8.0",
        "scikit-learn>=1.1",
        "h5py>=3.6",
        "tqdm>=4.60",
        "safetensors>=0.4",  # checkpoints: arrays without pickle
        "threadpoolctl>=3.1",  # the NumPy backend's BLAS thread count (minirtc/training/threads.py)
    ],
    extras_require={
        "torch": ["torch>=2.1,<3"],
        # The test extra also holds what the optional features need, so that CI exercises them:
        # Ray (the sweep's Ray executor on a local instance), TensorBoard and tbparse (live logging
        # read back), mkdocs (the documentation site built with --strict).
        "test": [
            "pytest>=7",
            "ruff>=0.4",
            "ray>=2.9,<3",
            "tensorboard>=2.12",
            "tbparse>=0.0.8",
            "mkdocs>=1.5",
            "mkdocs-material>=9",
            "pymdown-extensions>=10",
        ],
        "ray": ["ray>=2.9,<3"],
        "tensorboard": ["tensorboard>=2.12"],  # minirtc train --log tensorboard
        "mlflow": ["mlflow>=2.15"],  # minirtc train --log mlflow (mlflow-skinny does for a tracking server)
        # The documentation site (mkdocs.yml): `mkdocs build --strict` or `mkdocs serve`.
        "docs": ["mkdocs>=1.5", "mkdocs-material>=9", "pymdown-extensions>=10"],
    },
    entry_points={"console_scripts": ["minirtc=minirtc.cli:main"]},
)
