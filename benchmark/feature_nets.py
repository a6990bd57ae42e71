"""Feature networks for FID, FVD, LPIPS and diversity, built without any download.

Every builder takes ``pretrained``: True loads the weight file resolved by :mod:`ti2v.benchmark.weights`
(raising WeightsMissing, which the evaluator turns into a "skipped" entry); False builds the same architecture
with a seeded random initialisation, used by the tests and the throughput bench only (reports mark such numbers
as random-init and not comparable).

* Inception-v3 for FID: torchvision's inception_v3 layout with the blocks changed the way pytorch-fid changes them
  to reproduce the TF 2015-12-05 graph (average pools that exclude padding in the A, C and first E block; a max
  pool in the last E block), 1008-way fc, pool3 2048-d output. Implemented here on top of torchvision's block
  classes; weights ``pt_inception-2015-12-05-6726825d.pth``. Input: frames in [0, 1] -> bilinear resize to 299 ->
  [-1, 1]. Remaining deviation from the TF graph: the same as pytorch-fid's (bilinear resize in torch, not TF).
* I3D for FVD: ``i3d_torchscript.pt`` (StyleGAN-V) through torch.jit.load, called as
  ``net(x, rescale=False, resize=False, return_features=True)`` on [-1, 1] input resized here to 224 (400-d
  Kinetics logits averaged over time). ``I3D`` below is the Inception-3D architecture in plain torch (layer names
  of the common PyTorch port): with ``tats=True`` it is the TATS / VideoGPT extractor (``i3d_pretrained_400.pt``,
  TF "SAME" padding, BatchNorm eps 1e-5), the second FVD extractor; otherwise symmetric padding, for random-init
  runs.
* VGG-16 (torchvision, ``vgg16-397923af.pth``): relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 after ImageNet
  normalisation and a resize to 224.
* LPIPS: the ``lpips`` package (v0.1 linear heads shipped in the package) with its AlexNet trunk built with
  ``pnet_rand=True`` (so the package never calls torchvision's downloader) and then filled from
  ``alexnet-owt-7be5be79.pth`` resolved from the weights cache.
"""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from . import weights as W


@contextlib.contextmanager
def _seeded(seed: int):
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def _load_state(path) -> dict:
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return sd


def to_rgb01(frames: torch.Tensor) -> torch.Tensor:
    """uint8 / float [N, C, H, W] -> float [N, 3, H, W] in [0, 1] (grayscale repeated)."""
    x = frames.float()
    if frames.dtype == torch.uint8:
        x = x / 255.0
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


# --------------------------------------------------------------------------------------------- Inception (FID)
from torchvision.models.inception import InceptionA, InceptionC, InceptionE  # noqa: E402


class _FIDInceptionA(InceptionA):
    def _forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return [b1, b5, b3, bp]


class _FIDInceptionC(InceptionC):
    def _forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for m in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return [b1, b7, bd, bp]


class _FIDInceptionE(InceptionE):
    max_pool = False

    def _forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            bp = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            bp = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return [b1, b3, bd, self.branch_pool(bp)]


class _FIDInceptionE2(_FIDInceptionE):
    max_pool = True


class FIDInception(nn.Module):
    """pool3 features (2048-d) of the FID Inception-v3."""

    def __init__(self, resize: int = 299):
        super().__init__()
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
        net.Mixed_5b = _FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = _FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = _FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = _FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = _FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = _FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = _FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = _FIDInceptionE(1280)
        net.Mixed_7c = _FIDInceptionE2(2048)
        self.net = net
        self.resize = resize
        names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                 "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                 "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"]
        self.blocks = [getattr(net, n) for n in names]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = to_rgb01(frames)
        x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for b in self.blocks:
            x = b(x)
        return x.flatten(1)


def _random_init(module: nn.Module, seed: int) -> None:
    with _seeded(seed):
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def build_inception(pretrained: bool = True, resize: int = 299, seed: int = 0) -> FIDInception:
    net = FIDInception(resize=resize)
    if pretrained:
        net.net.load_state_dict(_load_state(W.require("inception-fid")))
    else:
        _random_init(net, seed)
    return net.eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------- I3D (FVD)
def same_pad(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "SAME" padding of one axis (front, back): the output has ceil(size / stride) positions."""
    total = max((-(-size // stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, k, stride) -> torch.Tensor:
    """Zero-pad [N, C, T, H, W] for a kernel ``k`` and ``stride`` (3-tuples) the TF "SAME" way (more at the back)."""
    (tf, tb), (hf, hb), (wf, wb) = (same_pad(n, a, b) for n, a, b in zip(x.shape[2:], k, stride))
    return F.pad(x, (wf, wb, hf, hb, tf, tb))


class Unit3D(nn.Module):
    """Conv3d + BatchNorm + ReLU. ``same``: TF "SAME" padding computed from the input size (the TF graph and the
    TATS/VideoGPT port) instead of a fixed symmetric k // 2."""

    def __init__(self, cin, cout, k=(1, 1, 1), stride=(1, 1, 1), bn=True, act=True, bias=False, same=False,
                 eps=1e-3, momentum=0.01):
        super().__init__()
        k = (k,) * 3 if isinstance(k, int) else tuple(k)
        stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
        self.k, self.stride, self.same = k, stride, same
        self.conv3d = nn.Conv3d(cin, cout, k, stride=stride, padding=0 if same else tuple(x // 2 for x in k),
                                bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=eps, momentum=momentum) if bn else None
        self.act = act

    def forward(self, x):
        x = self.conv3d(_pad_same(x, self.k, self.stride) if self.same else x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.act else x


class SameMaxPool3d(nn.MaxPool3d):
    """Max pooling after TF "SAME" zero padding (the inputs are ReLU outputs, so zeros never win wrongly)."""

    def forward(self, x):
        return super().forward(_pad_same(x, self.kernel_size, self.stride))


def _pool(k, stride, same: bool, padding=0, ceil_mode=False) -> nn.MaxPool3d:
    k = (k,) * 3 if isinstance(k, int) else tuple(k)
    stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
    if same:
        return SameMaxPool3d(k, stride=stride)
    return nn.MaxPool3d(k, stride=stride, padding=padding, ceil_mode=ceil_mode)


class InceptionModule(nn.Module):
    def __init__(self, cin, c, **unit):
        super().__init__()
        same = unit.get("same", False)
        self.b0 = Unit3D(cin, c[0], **unit)
        self.b1a, self.b1b = Unit3D(cin, c[1], **unit), Unit3D(c[1], c[2], 3, **unit)
        self.b2a, self.b2b = Unit3D(cin, c[3], **unit), Unit3D(c[3], c[4], 3, **unit)
        self.b3a = _pool(3, 1, same, padding=1)
        self.b3b = Unit3D(cin, c[5], **unit)

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class I3D(nn.Module):
    """Inception-3D (Carreira & Zisserman) with 400 logits; input [N, 3, T, H, W] in [-1, 1].

    ``tats=False``: symmetric padding, BatchNorm eps 1e-3 (random-init runs). ``tats=True``: the layout of the
    TATS / VideoGPT ``i3d_pretrained_400.pt`` exactly: TF "SAME" padding on every convolution and max pool,
    BatchNorm eps 1e-5 (momentum 0.001), and its head: average pool over 2 x 7 x 7 (stride 1), the 1x1x1 logits,
    the mean over the remaining time steps. Both have the same parameter names, so either loads the file."""

    def __init__(self, num_classes: int = 400, tats: bool = False):
        super().__init__()
        self.tats = tats
        u = dict(same=True, eps=1e-5, momentum=0.001) if tats else {}
        self.Conv3d_1a_7x7 = Unit3D(3, 64, 7, stride=(2, 2, 2), **u)
        self.MaxPool3d_2a_3x3 = _pool((1, 3, 3), (1, 2, 2), tats, padding=(0, 1, 1))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, **u)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, 3, **u)
        self.MaxPool3d_3a_3x3 = _pool((1, 3, 3), (1, 2, 2), tats, padding=(0, 1, 1))
        self.Mixed_3b = InceptionModule(192, [64, 96, 128, 16, 32, 32], **u)
        self.Mixed_3c = InceptionModule(256, [128, 128, 192, 32, 96, 64], **u)
        self.MaxPool3d_4a_3x3 = _pool(3, 2, tats, padding=1)
        self.Mixed_4b = InceptionModule(480, [192, 96, 208, 16, 48, 64], **u)
        self.Mixed_4c = InceptionModule(512, [160, 112, 224, 24, 64, 64], **u)
        self.Mixed_4d = InceptionModule(512, [128, 128, 256, 24, 64, 64], **u)
        self.Mixed_4e = InceptionModule(512, [112, 144, 288, 32, 64, 64], **u)
        self.Mixed_4f = InceptionModule(528, [256, 160, 320, 32, 128, 128], **u)
        self.MaxPool3d_5a_2x2 = _pool(2, 2, tats, ceil_mode=True)
        self.Mixed_5b = InceptionModule(832, [256, 160, 320, 32, 128, 128], **u)
        self.Mixed_5c = InceptionModule(832, [384, 192, 384, 48, 128, 128], **u)
        self.logits = Unit3D(1024, num_classes, bn=False, act=False, bias=True)
        self.order = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
                      "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
                      "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c"]

    def features(self, x):
        """Mixed_5c's output [N, 1024, T', H', W']."""
        for n in self.order:
            x = getattr(self, n)(x)
        return x

    def forward(self, x):
        x = self.features(x)
        if self.tats:
            x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # needs 224 px input (7 x 7 at Mixed_5c), as the original
        else:
            x = F.adaptive_avg_pool3d(x, (None, 1, 1))
            if x.shape[2] >= 2:
                x = F.avg_pool3d(x, (2, 1, 1), stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))  # logits averaged over time


class I3DFeatures(nn.Module):
    """uint8 videos [N, T, C, H, W] -> 400-d I3D logits; wraps either the TorchScript file or the plain I3D."""

    def __init__(self, net: nn.Module, torchscript: bool, resize: int = 224):
        super().__init__()
        self.net, self.torchscript, self.resize = net, torchscript, resize

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = videos.shape
        if t < 9:
            raise ValueError(f"I3D needs at least 9 frames, the clips have {t}")
        x = to_rgb01(videos.reshape(n * t, c, h, w))
        x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        x = (2 * x - 1).view(n, t, 3, self.resize, self.resize).permute(0, 2, 1, 3, 4).contiguous()
        if self.torchscript:
            return self.net(x, rescale=False, resize=False, return_features=True)
        return self.net(x)


I3D_EXTRACTORS = {"stylegan-v": "i3d", "tats": "i3d-tats"}  # FVD extractor -> its weights entry


def build_i3d(pretrained: bool = True, resize: int = 224, seed: int = 0, device="cpu",
              extractor: str = "stylegan-v") -> I3DFeatures:
    """The FVD network: ``stylegan-v`` (``i3d_torchscript.pt``, the default) or ``tats`` (``i3d_pretrained_400.pt``
    into :class:`I3D` with ``tats=True``, loaded strictly with ``weights_only``)."""
    if extractor not in I3D_EXTRACTORS:
        raise ValueError(f"FVD extractor {extractor!r}; allowed: {', '.join(I3D_EXTRACTORS)}")
    if pretrained and extractor == "stylegan-v":
        path = W.require("i3d")
        with open(path, "rb") as f:
            net = torch.jit.load(io.BytesIO(f.read()), map_location=device)
        return I3DFeatures(net.eval(), True, resize)
    if extractor == "tats" and resize != 224:
        raise ValueError(f"the TATS I3D head pools 7 x 7 cells of a 224 px input; resize {resize} does not fit")
    net = I3D(tats=extractor == "tats")
    if pretrained:
        net.load_state_dict(_load_state(W.require("i3d-tats")), strict=True)
    else:
        _random_init(net, seed)
    return I3DFeatures(net.eval().requires_grad_(False), False, resize).to(device)


# --------------------------------------------------------------------------------------------- VGG-16
VGG_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    def __init__(self, features: nn.Sequential, resize: int = 224):
        super().__init__()
        self.features = features[: max(VGG_LAYERS.values()) + 1]
        self.resize = resize
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        x = to_rgb01(frames)
        x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        taps = set(VGG_LAYERS.values())
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in taps:
                out.append(x)
        return out


def build_vgg16(pretrained: bool = True, resize: int = 224, seed: int = 0) -> VGGFeatures:
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["D"], batch_norm=False)  # the convolutional part of vgg16 (no classifier)
    if pretrained:
        sd = _load_state(W.require("vgg16"))
        features.load_state_dict({k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")})
    else:
        _random_init(features, seed)
    return VGGFeatures(features, resize).eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------- LPIPS
def build_lpips(pretrained: bool = True, seed: int = 0) -> nn.Module:
    import lpips

    import warnings

    with _seeded(seed), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # pnet_rand=True: the trunk is built with torchvision weights=None, nothing is downloaded.
        # pretrained=True here only means the v0.1 linear heads shipped inside the lpips package.
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    if pretrained:
        sd = _load_state(W.require("alexnet"))
        slices = [getattr(model.net, f"slice{i}") for i in range(1, 6)]
        where = {name: s for s in slices for name in s._modules}
        loaded = 0
        for key, value in sd.items():
            parts = key.split(".")
            if parts[0] != "features":
                continue
            target = where[parts[1]]._modules[parts[1]]
            getattr(target, parts[2]).data.copy_(value)
            loaded += 1
        if loaded != 10:
            raise ValueError(f"AlexNet weights: expected 10 feature tensors, found {loaded}")
    return model.eval().requires_grad_(False)
