"""Weights registry: resolution order, fetch from a local HTTP server with checksum checks, verify, CLI."""

import functools
import hashlib
import http.server
import threading

import pytest
from click.testing import CliRunner

from ti2v.benchmark import weights as W
from ti2v.benchmark.cli import main


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_resolution_order(tmp_path, monkeypatch):
    a, th = tmp_path / "a", tmp_path / "th"
    monkeypatch.setenv("TI2V_WEIGHTS", str(a))
    monkeypatch.setenv("TORCH_HOME", str(th))
    name = W.get("vgg16").filename
    assert W.find("vgg16") is None
    with pytest.raises(W.WeightsMissing, match="ti2v-bench weights fetch vgg16"):
        W.require("vgg16")
    (th / "hub" / "checkpoints").mkdir(parents=True)
    (th / "hub" / "checkpoints" / name).write_bytes(b"x")
    assert W.find("vgg16") == th / "hub" / "checkpoints" / name
    a.mkdir()
    (a / name).write_bytes(b"y")
    assert W.find("vgg16") == a / name
    monkeypatch.delenv("TI2V_WEIGHTS")
    assert W.download_dir() == th / "hub" / "checkpoints"


def test_fetch_verifies_checksum(server, tmp_path, monkeypatch):
    root, url = server
    dest = tmp_path / "cache"
    monkeypatch.setenv("TI2V_WEIGHTS", str(dest))
    payload = b"not really vgg" * 1000
    (root / W.get("vgg16").filename).write_bytes(payload)
    # published prefix 397923af cannot match these bytes: refused, nothing left behind
    with pytest.raises(W.ChecksumError):
        W.fetch("vgg16", base_url=url)
    assert not dest.exists() or not any(dest.iterdir())
    # unpinned file (I3D): downloaded, renamed into place, verify reports its sha256
    data = b"i3d bytes" * 500
    (root / W.get("i3d").filename).write_bytes(data)
    p = W.fetch("i3d", base_url=url)
    assert p == dest / "i3d_torchscript.pt" and p.read_bytes() == data
    v = W.verify("i3d")
    assert v["status"] == "unpinned" and v["sha256"] == hashlib.sha256(data).hexdigest()
    # a pinned prefix that matches is accepted (prefix passed explicitly, as a mirror would)
    digest = hashlib.sha256(payload).hexdigest()
    p = W.fetch("vgg16", base_url=url, sha256_prefix=digest[:8])
    assert p.read_bytes() == payload
    assert W.verify("vgg16")["status"] == "checksum mismatch"  # against the published prefix


def test_cli_weights(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path / "c"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "t"))
    r = CliRunner().invoke(main, ["weights", "list"])
    assert r.exit_code == 0 and "pt_inception-2015-12-05-6726825d.pth" in r.output and "missing" in r.output
    assert f"searched: {tmp_path / 'c'}, {tmp_path / 't' / 'hub' / 'checkpoints'}" in r.output
    (root / "i3d_torchscript.pt").write_bytes(b"abc")
    monkeypatch.setenv("TI2V_WEIGHTS_URL_BASE", url)
    r = CliRunner().invoke(main, ["weights", "fetch", "i3d"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c" / "i3d_torchscript.pt").read_bytes() == b"abc"
    r = CliRunner().invoke(main, ["weights", "fetch", "alexnet"])  # 404 on the local server
    assert r.exit_code == 1 and "download failed" in r.output
    r = CliRunner().invoke(main, ["weights", "verify"])
    assert "unpinned" in r.output and "missing" in r.output
    r = CliRunner().invoke(main, ["weights", "fetch", "resnet"])
    assert r.exit_code == 2 and "unknown weights 'resnet'" in r.output
