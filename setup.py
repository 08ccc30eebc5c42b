"""minirtc: RTC-VAE and the total-correlation family of disentangled VAEs.

`backends/` is a top-level source folder installed under the import name
`minirtc.backends` (a different PyPI project already owns the name `backends`).
"""

from setuptools import setup

setup(
    name="minirtc",
    version="0.1.0",
    description="Reference implementation of RTC-VAE and total-correlation VAEs "
    "(NumPy/autograd for teaching, torch for scale)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=[
        "minirtc",
        "minirtc.data",
        "minirtc.metrics",
        "minirtc.training",
        "minirtc.experiments",
        "minirtc.cli",
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
        "threadpoolctl>=3.1",  # the NumPy backend's BLAS thread count (minirtc/training/threads.py)
    ],
    extras_require={
        "torch": ["torch>=2.1,<3"],
        # Ray is in the test extra so that CI runs the sweep's Ray executor on a local instance.
        "test": ["pytest>=7", "ruff>=0.4", "ray>=2.9,<3"],
        "ray": ["ray>=2.9,<3"],
    },
    entry_points={"console_scripts": ["minirtc=minirtc.cli:main"]},
)
