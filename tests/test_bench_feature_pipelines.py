"""FID / FVD / LPIPS / diversity pipelines end to end on random-init networks, and the pretrained loading paths."""

import numpy as np
import pytest
import torch

from ti2v.benchmark import feature_nets as FN
from ti2v.benchmark import video_metrics as VM
from ti2v.benchmark import weights as W


def _videos(seed, b=3, k=1, t=10, c=1, hw=32):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, k, t, c, hw, hw), generator=g, dtype=torch.uint8)


@pytest.fixture(scope="module")
def nets():
    return {
        "inception": FN.build_inception(False, resize=75),
        "i3d": FN.build_i3d(False, resize=32),
        "vgg": FN.build_vgg16(False, resize=32),
        "lpips": FN.build_lpips(False),
    }


def test_identical_sets_give_zero_distance(nets):
    g = _videos(0)
    ref = g[:, 0]
    fid = VM.FIDScore(nets["inception"], batch=32)
    fid.update(g, ref)
    assert abs(fid.result()["fid"]) < 1e-6
    i3d = VM.I3DScores(nets["i3d"])
    i3d.update(g, ref)
    assert abs(i3d.result()["fvd"]) < 1e-6
    lp = VM.LPIPSScore(nets["lpips"])
    lp.update(g, ref)
    assert abs(lp.result()["lpips"]) < 1e-6


def test_different_sets_give_positive_distance(nets):
    g, h = _videos(0), _videos(1)
    fid = VM.FIDScore(nets["inception"], batch=32)
    fid.update(g, h[:, 0])
    assert fid.result()["fid"] > 0
    lp = VM.LPIPSScore(nets["lpips"])
    lp.update(g, h[:, 0])
    assert lp.result()["lpips"] > 0


def test_diversity_zero_for_identical_samples(nets):
    one = _videos(3, b=1, k=1, hw=24)
    same = one.repeat(1, 3, 1, 1, 1, 1)
    diff = _videos(4, b=1, k=3, hw=24)
    for make in (lambda: VM.VGGDiversity(nets["vgg"], batch=6), lambda: VM.I3DScores(nets["i3d"], fvd=False)):
        a = make()
        a.update(same, None)
        r = a.result()
        assert abs(list(r.values())[0]) < 1e-9
        b = make()
        b.update(diff, None)
        assert list(b.result().values())[0] > 0


def test_vgg_diversity_scores_the_generated_frames_only(nets):
    """Frame 1 is the given frame, shared by every sample: repeating each generated frame leaves the mean over
    frames 2..T unchanged, and a frame 1 that differed between samples would not count."""
    v = _videos(5, b=1, k=2, t=4, hw=24)
    v[:, 1, 0] = v[:, 0, 0]  # the samples share frame 1
    doubled = torch.cat([v[:, :, :1], v[:, :, 1:].repeat_interleave(2, dim=2)], dim=2)
    other_first = v.clone()
    other_first[:, 1, 0] = 255 - v[:, 0, 0]
    scores = []
    for gen in (v, doubled, other_first):
        d = VM.VGGDiversity(nets["vgg"], batch=4)
        d.update(gen)
        scores.append(d.result()["div_vgg"])
    assert scores[0] > 0
    assert scores[1] == pytest.approx(scores[0], rel=1e-6)
    assert scores[2] == pytest.approx(scores[0], rel=1e-6)


def test_fid_uses_the_sample_covariance_fvd_the_population_one():
    """FID as pytorch-fid (np.cov, over N - 1); FVD as StyleGAN-V (over N)."""
    from scipy import linalg

    from ti2v.benchmark.frechet import frechet_from_features

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 6)), rng.normal(loc=0.5, size=(30, 6))
    for bias, ddof in ((False, 1), (True, 0)):
        s1, s2 = np.cov(x, rowvar=False, bias=bias), np.cov(y, rowvar=False, bias=bias)
        direct = float(((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
        assert frechet_from_features(x, y, ddof=ddof) == pytest.approx(direct, rel=1e-9)
        few = frechet_from_features(x[:4], y[:5], ddof=ddof)  # N < D: the sample-space route
        c1, c2 = np.cov(x[:4], rowvar=False, bias=bias), np.cov(y[:5], rowvar=False, bias=bias)
        direct = float(((x[:4].mean(0) - y[:5].mean(0)) ** 2).sum()
                       + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real))
        assert few == pytest.approx(direct, rel=1e-6, abs=1e-9)
    assert VM.FID_DDOF == 1


def test_pairwise_mse_mean_matches_loop():
    f = torch.randn(4, 7, dtype=torch.float64)
    loop = np.mean([((f[i] - f[j]) ** 2).mean().item() for i in range(4) for j in range(4) if i != j])
    assert abs(VM.pairwise_mse_mean(f) - loop) < 1e-9


def test_i3d_needs_nine_frames(nets):
    with pytest.raises(ValueError, match="9 frames"):
        nets["i3d"](torch.zeros(1, 8, 1, 32, 32, dtype=torch.uint8))


def test_pretrained_paths_load_from_cache_without_download(tmp_path, monkeypatch):
    """Weight files are resolved from $TI2V_WEIGHTS; nothing is fetched from the network."""
    import torchvision

    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("download attempted")))
    alex = torchvision.models.alexnet(weights=None)
    torch.save({k: v for k, v in alex.state_dict().items() if k.startswith("features.")},
               tmp_path / W.get("alexnet").filename)
    model = FN.build_lpips(True)
    assert torch.equal(model.net.slice1._modules["0"].weight, alex.features[0].weight)
    from torchvision.models.vgg import cfgs, make_layers

    feats = make_layers(cfgs["D"])
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, tmp_path / W.get("vgg16").filename)
    vgg = FN.build_vgg16(True, resize=32)
    assert torch.equal(vgg.features[0].weight, feats[0].weight)

    class TinyI3D(torch.nn.Module):
        def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
            return x.mean(dim=(1, 3, 4)).repeat(1, 40)[:, :400]

    torch.jit.script(TinyI3D()).save(str(tmp_path / W.get("i3d").filename))
    i3d = FN.build_i3d(True, resize=16)
    assert i3d(torch.zeros(2, 10, 1, 16, 16, dtype=torch.uint8)).shape == (2, 400)

    inc = FN.FIDInception()
    torch.save(inc.net.state_dict(), tmp_path / W.get("inception-fid").filename)
    loaded = FN.build_inception(True, resize=75)
    assert torch.equal(loaded.net.Mixed_7c.branch_pool.conv.weight, inc.net.Mixed_7c.branch_pool.conv.weight)
    assert loaded(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)).shape == (1, 2048)
