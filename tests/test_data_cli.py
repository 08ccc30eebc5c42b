"""`minirtc data`: info, show, render and fetch through click (no external network)."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from minirtc.cli import main
from minirtc.data.dsprites import DSprites
from minirtc.data.shapes3d import Shapes3D


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["data", *args])


def test_info_lists_every_dataset(run, tmp_path):
    result = run("info", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    assert f"data directory: {tmp_path}" in result.output
    for name in ("dsprites-procedural", "shapes3d-procedural", "gaussian", "faces3d"):
        assert name in result.output
    assert "3dshapes.h5 (missing)" in result.output


@pytest.mark.parametrize("name, row_px", [("gaussian", 4 * 15), ("dsprites-procedural", 6 * 40)])
def test_show_writes_a_png(run, tmp_path, name, row_px):
    out = tmp_path / "grid.png"
    result = run("show", name, "--out", str(out), "--columns", "4")
    assert result.exit_code == 0, result.output
    image = imread(out)
    assert image.ndim == 3 and image.shape[0] > row_px and image.std() > 0.05


def test_show_with_ranges_and_bad_ranges(run, tmp_path):
    ok = run("show", "gaussian", "--out", str(tmp_path / "g.png"), "--range", "f0=0:2")
    assert ok.exit_code == 0, ok.output
    bad = run("show", "gaussian", "--out", str(tmp_path / "g.png"), "--range", "f0=2")
    assert bad.exit_code == 2 and "NAME=LO:HI" in bad.output
    unknown = run("show", "gaussian", "--out", str(tmp_path / "g.png"), "--range", "size=0:2")
    assert unknown.exit_code == 1 and "unknown factors ['size']" in unknown.output


def test_show_missing_file_is_a_clean_error(run, tmp_path):
    result = run("show", "dsprites", "--out", str(tmp_path / "g.png"), "--data-dir", str(tmp_path))
    assert result.exit_code == 1 and "Error: dSprites file not found" in result.output
    assert "dsprites-procedural" in result.output


def test_render_dsprites_reads_back(run, tmp_path):
    out = tmp_path / "d.npz"
    ranges = [
        "--range",
        "scale=0:1",
        "--range",
        "orientation=0:2",
        "--range",
        "posX=0:3",
        "--range",
        "posY=0:2",
    ]
    result = run("render", "dsprites", "--out", str(out), "--no-compress", *ranges)
    assert result.exit_code == 0, result.output
    assert "(36 images)" in result.output
    ds = DSprites(out, expected_sizes=None)
    assert ds.factor_sizes == (1, 3, 1, 2, 3, 2) and ds.describe()["source"] == "procedural-file"


def test_render_shapes3d_defaults_to_the_data_dir(run, tmp_path):
    ranges = [f"--range={n}=0:1" for n in ("floor_hue", "wall_hue", "object_hue", "scale", "shape")]
    result = run("render", "shapes3d", "--data-dir", str(tmp_path), *ranges, "--range", "orientation=0:2")
    assert result.exit_code == 0, result.output
    ds = Shapes3D(tmp_path / "3dshapes_procedural.h5", expected_sizes=None)
    assert len(ds) == 2 and ds.images(np.arange(2)).shape == (2, 64, 64, 3)


def test_fetch_without_network_names_the_alternative(run, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/3dshapes.h5"
    result = run("fetch", "shapes3d", "--data-dir", str(tmp_path), "--url", url, "--timeout", "2")
    assert result.exit_code == 1
    assert "could not download shapes3d" in result.output and "shapes3d-procedural" in result.output


def test_fetch_rejects_unknown_names(run):
    result = run("fetch", "faces3d")
    assert result.exit_code == 2 and "dsprites" in result.output
