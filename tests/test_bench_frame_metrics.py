import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ti2v.benchmark.frame_metrics import PSNR_CAP_DB, psnr_per_frame, ssim_per_frame, video_frame_scores
from ti2v.benchmark.frechet import feature_stats, frechet_distance, frechet_from_features


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_ssim_match_skimage(channels):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(4, 40, 48, channels), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, size=a.shape), 0, 255).astype(np.uint8)
    b[1] = rng.integers(0, 256, size=b[1].shape)  # one unrelated pair
    ta = torch.from_numpy(a).permute(0, 3, 1, 2)
    tb = torch.from_numpy(b).permute(0, 3, 1, 2)
    ps = psnr_per_frame(ta, tb, 255.0).numpy()
    ss = ssim_per_frame(ta, tb, 255.0).numpy()
    for i in range(len(a)):
        x, y = (a[i, ..., 0], b[i, ..., 0]) if channels == 1 else (a[i], b[i])
        ref_p = peak_signal_noise_ratio(x, y, data_range=255)
        ref_s = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=None if channels == 1 else -1)
        assert abs(ps[i] - ref_p) < 1e-4
        assert abs(ss[i] - ref_s) < 1e-4


def test_float_data_range_and_identity():
    rng = np.random.default_rng(1)
    a = rng.random((3, 1, 32, 32))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    s = ssim_per_frame(torch.from_numpy(a), torch.from_numpy(b), 1.0).numpy()
    for i in range(3):
        ref = structural_similarity(a[i, 0], b[i, 0], gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0)
        assert abs(s[i] - ref) < 1e-4
    same = psnr_per_frame(torch.from_numpy(a), torch.from_numpy(a), 1.0)
    assert torch.allclose(same, torch.full_like(same, PSNR_CAP_DB))
    assert torch.allclose(ssim_per_frame(torch.from_numpy(a), torch.from_numpy(a), 1.0), torch.ones(3, dtype=torch.float64))


def test_per_frame_not_pooled():
    g = torch.zeros(1, 2, 1, 16, 16, dtype=torch.uint8)
    r = g.clone()
    r[0, 1] = 10  # one frame off by 10, the other identical
    p, _ = video_frame_scores(g, r)
    assert p.shape == (1, 2)
    assert abs(p[0, 1].item() - 10 * np.log10(255**2 / 100)) < 1e-6
    assert p[0, 0].item() == PSNR_CAP_DB


def test_frechet_matches_direct_scipy():
    from scipy import linalg

    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 16))
    y = rng.normal(loc=0.3, scale=1.2, size=(150, 16)) @ rng.normal(size=(16, 16)) * 0.5
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False, bias=True), np.cov(y, rowvar=False, bias=True)
    direct = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    assert abs(frechet_from_features(x, y) - direct) < 1e-6 * max(1, abs(direct))
    m, s = feature_stats(x)
    assert np.allclose(s, s1) and np.allclose(m, mu1)
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-6
    assert frechet_from_features(x, x) < 1e-6
    # N < D takes the sample-space route: same value as the direct computation
    xs, ys = x[:10], y[:12]
    m1, m2 = xs.mean(0), ys.mean(0)
    c1, c2 = np.cov(xs, rowvar=False, bias=True), np.cov(ys, rowvar=False, bias=True)
    direct = float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real))
    assert abs(frechet_from_features(xs, ys) - direct) < 1e-6 * max(1, abs(direct))
    assert abs(frechet_distance(m1, c1, m2, c2) - direct) < 1e-6 * max(1, abs(direct))
