"""The second FVD extractor: the TATS / VideoGPT ``i3d_pretrained_400.pt`` layout (issue 19).

The reference port pads every convolution and max pool the TF "SAME" way, computing the padding from the input
size with ``pad = max(k - stride, 0) if size % stride == 0 else max(k - size % stride, 0)``, front = pad // 2,
and uses BatchNorm eps 1e-5; its head averages over 2 x 7 x 7, applies the 1x1x1 logits and takes the mean over
time. The reference is restated below with functional torch calls (the formula above, F.pad, F.conv3d,
F.batch_norm, F.max_pool3d) and walked over the same random weights: the outputs must be identical.
"""

import torch
import torch.nn.functional as F

from ti2v.benchmark import feature_nets as FN
from ti2v.benchmark import weights as W


def _reference_pad(size: int, k: int, stride: int) -> tuple[int, int]:
    pad = max(k - stride, 0) if size % stride == 0 else max(k - size % stride, 0)
    return pad // 2, pad - pad // 2


def _pad(x, k, stride):
    (tf, tb), (hf, hb), (wf, wb) = (_reference_pad(n, a, b) for n, a, b in zip(x.shape[2:], k, stride))
    return F.pad(x, (wf, wb, hf, hb, tf, tb))


def _unit(u, x, bn_eps=1e-5):
    conv = u.conv3d
    x = F.conv3d(_pad(x, conv.kernel_size, conv.stride), conv.weight, conv.bias, conv.stride)
    if u.bn is not None:
        bn = u.bn
        x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn_eps)
    return F.relu(x) if u.act else x


def _maxpool(p, x):
    k = tuple(p.kernel_size) if isinstance(p.kernel_size, tuple) else (p.kernel_size,) * 3
    s = tuple(p.stride) if isinstance(p.stride, tuple) else (p.stride,) * 3
    return F.max_pool3d(_pad(x, k, s), k, s)


def _reference_features(net, x):
    for name in net.order:
        m = getattr(net, name)
        if isinstance(m, FN.Unit3D):
            x = _unit(m, x)
        elif isinstance(m, torch.nn.MaxPool3d):
            x = _maxpool(m, x)
        else:
            x = torch.cat([_unit(m.b0, x), _unit(m.b1b, _unit(m.b1a, x)), _unit(m.b2b, _unit(m.b2a, x)),
                           _unit(m.b3b, _maxpool(m.b3a, x))], 1)
    return x


def _random_stats(net, seed=0):
    """Random-init plus BatchNorm running statistics far from (0, 1), so eps and padding both matter."""
    FN._random_init(net, seed)
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1e-3 + 1e-4)
    return net.eval()


def test_same_padding_is_the_reference_formula():
    for size in range(1, 40):
        for k in (1, 2, 3, 7):
            for stride in (1, 2):
                assert FN.same_pad(size, k, stride) == _reference_pad(size, k, stride), (size, k, stride)


@torch.no_grad()
def test_tats_layout_equals_the_reference_on_odd_sizes():
    net = _random_stats(FN.I3D(tats=True))
    x = torch.randn(1, 3, 9, 37, 42, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(net.features(x), _reference_features(net, x), rtol=1e-4, atol=1e-5)
    # the symmetric layout with the same weights differs already at the first convolution (the 117%)
    plain = FN.I3D()
    plain.load_state_dict(net.state_dict())
    plain.eval()
    a, b = net.Conv3d_1a_7x7(x), plain.Conv3d_1a_7x7(x)
    assert a.shape != b.shape or (a - b).norm() / a.norm() > 0.1


@torch.no_grad()
def test_tats_file_loads_strictly_and_gives_400_logits(tmp_path, monkeypatch):
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path))
    ref = _random_stats(FN.I3D(tats=True), seed=3)
    torch.save(ref.state_dict(), tmp_path / W.get("i3d-tats").filename)
    feats = FN.build_i3d(True, resize=224, extractor="tats")
    assert feats.net.tats and torch.equal(feats.net.Mixed_5c.b3b.conv3d.weight, ref.Mixed_5c.b3b.conv3d.weight)
    videos = torch.randint(0, 256, (1, 9, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    out = feats(videos)
    x = F.interpolate(videos[0].float() / 255, size=(224, 224), mode="bilinear", align_corners=False)
    x = (2 * x - 1).permute(1, 0, 2, 3)[None]
    want = ref.logits(F.avg_pool3d(_reference_features(ref, x), (2, 7, 7), stride=1)).mean(dim=(2, 3, 4))
    assert out.shape == (1, 400) and torch.allclose(out, want, rtol=1e-4, atol=1e-4)
