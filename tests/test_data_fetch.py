"""Downloads, against a local HTTP server and closed ports only (never an external host)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time

import numpy as np
import pytest

from minirtc.data import fetch as fetch_module
from minirtc.data.dsprites import DSprites, ProceduralDSprites, write_dsprites_npz
from minirtc.data.fetch import FetchError, download, fetch
from minirtc.data.subsets import FactorRanges


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> bytes:
    """A small valid dSprites-format file's bytes."""
    small = FactorRanges(ProceduralDSprites(), {"scale": (0, 1), "orientation": (0, 1), "posX": (0, 2)})
    path = write_dsprites_npz(tmp_path_factory.mktemp("src") / "d.npz", small)
    return path.read_bytes()


@pytest.fixture(scope="module")
def server(payload):
    """Serves /good (the payload), /short (announces more bytes than it sends) and /junk."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"/good": payload, "/short": payload[:1000], "/junk": b"x" * 500}.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload) if self.path == "/short" else len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_download_checks_and_renames(tmp_path, server, payload):
    dest = tmp_path / "d.npz"
    sha = download(f"{server}/good", dest, timeout=5, md5=hashlib.md5(payload).hexdigest(), progress=False)
    assert dest.read_bytes() == payload and sha == hashlib.sha256(payload).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # no temporary file left


def test_fetch_writes_the_sha256_and_checks_the_file(tmp_path, server, payload, monkeypatch):
    monkeypatch.setitem(fetch_module.CHECKERS, "dsprites", lambda p: DSprites(p, expected_sizes=None))
    path = fetch("dsprites", tmp_path, url=f"{server}/good", progress=False)
    assert path.name == "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" and path.read_bytes() == payload
    sidecar = (tmp_path / (path.name + ".sha256")).read_text()
    assert sidecar == f"{hashlib.sha256(payload).hexdigest()}  {path.name}\n"
    assert fetch("dsprites", tmp_path, url="http://127.0.0.1:1/none") == path  # present: no download


def test_short_download_leaves_nothing(tmp_path, server):
    with pytest.raises(FetchError, match="cut short"):
        download(f"{server}/short", tmp_path / "d.npz", timeout=5, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch_leaves_nothing(tmp_path, server):
    with pytest.raises(FetchError, match="MD5 .* does not match the published 0+"):
        download(f"{server}/good", tmp_path / "d.npz", timeout=5, md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_does_not_open_is_refused(tmp_path, server):
    with pytest.raises(FetchError, match="does not check out: .*not a readable .npz"):
        fetch("dsprites", tmp_path, url=f"{server}/junk", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_names_the_procedural_alternative(tmp_path, server):
    with pytest.raises(FetchError, match="404.*'shapes3d-procedural'"):
        fetch("shapes3d", tmp_path, url=f"{server}/missing", progress=False)


def test_no_network_fails_fast_with_the_alternative(tmp_path):
    start = time.monotonic()
    with pytest.raises(FetchError, match="could not download dsprites.*'dsprites-procedural'"):
        fetch("dsprites", tmp_path, url=f"http://127.0.0.1:{closed_port()}/d.npz", timeout=2, progress=False)
    assert time.monotonic() - start < 10
    assert list(tmp_path.iterdir()) == []


def test_a_silent_server_times_out(tmp_path):
    """A server that accepts the connection but never answers: the timeout applies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out|no connection within"):
            fetch("dsprites", tmp_path, url=f"http://127.0.0.1:{port}/d.npz", timeout=0.5, progress=False)
        assert time.monotonic() - start < 5


def test_unknown_name():
    with pytest.raises(ValueError, match="downloadable datasets are dsprites, shapes3d"):
        fetch("faces3d", "/tmp")


def test_official_addresses():
    assert fetch_module.REMOTE_FILES["dsprites"].url.startswith(
        "https://raw.githubusercontent.com/deepmind/dsprites-dataset/"
    )
    assert fetch_module.REMOTE_FILES["shapes3d"].url == "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
    assert np.all([len(r.md5) == 32 for r in fetch_module.REMOTE_FILES.values()])
