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


# ----------------------------------------------------------------- weights are checked before they are used
@pytest.fixture(scope="module")
def split(tmp_path_factory):
    from ti2v.benchmark.synthetic import make_mnist_split

    root = tmp_path_factory.mktemp("wsplit")
    make_mnist_split(root, num_videos=3, seed=1)
    return root


def _evaluate(split, *args):
    return CliRunner().invoke(main, ["evaluate", "static", "--data", str(split), "--limit", "3", *args])


def test_mismatching_weights_give_no_number(split, tmp_path, monkeypatch):
    """A local alexnet file that loads fine but does not match its pin: lpips is skipped, never computed."""
    import json

    import torch
    import torchvision

    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    alex = torchvision.models.alexnet(weights=None)
    torch.save({k: v for k, v in alex.state_dict().items() if k.startswith("features.")},
               tmp_path / W.get("alexnet").filename)
    assert W.verify("alexnet")["status"] == "checksum mismatch"
    r = _evaluate(split, "--metrics", "psnr,lpips", "--out", str(tmp_path / "rep"))
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["metrics"]["lpips"]["status"] == "skipped"
    assert rep["metrics"]["lpips"]["reason"] == "checksum mismatch"
    assert rep["metrics"]["lpips"]["pin"] == "7be5be79"
    assert isinstance(rep["metrics"]["psnr"], float)
    assert "alexnet" not in rep["weights"]
    assert "does not match its checksum pin" in (tmp_path / "rep" / "report.md").read_text()
    r = _evaluate(split, "--metrics", "psnr,lpips", "--strict")
    assert r.exit_code == 2
    assert "alexnet-owt-7be5be79.pth" in r.output and "7be5be79" in r.output and "Traceback" not in r.output


def test_unpinned_weights_reported_and_refused_under_strict(split, tmp_path, monkeypatch):
    """i3d_torchscript.pt has no published checksum: the report says unpinned (with its sha256); --strict refuses."""
    import json

    import torch

    assert W.get("i3d").sha256_prefix is None
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    class TinyI3D(torch.nn.Module):
        def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
            return x.mean(dim=(1, 3, 4)).repeat(1, 40)[:, :400]

    path = tmp_path / W.get("i3d").filename
    torch.jit.script(TinyI3D()).save(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    r = _evaluate(split, "--metrics", "fvd", "--feature-resize", "i3d=16", "--out", str(tmp_path / "rep"))
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["weights"]["i3d"]["status"] == "unpinned" and rep["weights"]["i3d"]["sha256"] == digest
    assert rep["fvd_protocol"]["extractor_status"] == "unpinned"
    assert "unpinned" in (tmp_path / "rep" / "report.md").read_text()
    r = _evaluate(split, "--metrics", "fvd", "--feature-resize", "i3d=16", "--strict")
    assert r.exit_code == 2
    assert "i3d_torchscript.pt" in r.output and "unpinned" in r.output and "Traceback" not in r.output
