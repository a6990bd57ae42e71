"""Fréchet distance between two Gaussians fitted to feature sets (FID, FVD).

d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), computed in float64. The covariance is normalised by
N - ddof: FID uses ddof=1 (the sample covariance, as pytorch-fid's np.cov), FVD ddof=0 (as StyleGAN-V's FVD);
docs/METRICS.md says where each protocol comes from. The matrix square root is scipy.linalg.sqrtm; when the
product is singular a small multiple of the identity is added (as pytorch-fid does) and tiny imaginary parts
from numerical error are dropped.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def feature_stats(features: np.ndarray, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors [N, D], got shape {x.shape}")
    mu = x.mean(0)
    d = x - mu
    return mu, d.T @ d / (x.shape[0] - ddof)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError("feature statistics have different dimensions")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    d = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(d, 0.0) if d > -1e-6 * max(1.0, abs(np.trace(s1))) else d


def trace_sqrt_product(a: np.ndarray, b: np.ndarray, ddof: int = 0) -> float:
    """Tr((S_a S_b)^(1/2)) for the covariances (over N - ddof) of feature sets a [N1, D], b [N2, D].

    The eigenvalues of S_a S_b (real, >= 0) are those of A^T A B^T B / (n1 n2) with A, B the centred sets and
    n = N - ddof; its non-zero ones equal those of C C^T with C = B A^T / sqrt(n1 n2), so the trace of the square root is the
    nuclear norm of C (an N2 x N1 matrix: exact and fast when N < D). Otherwise: eigenvalues of the symmetric
    S_a^(1/2) S_b S_a^(1/2).
    """
    A = a - a.mean(0)
    B = b - b.mean(0)
    n1, n2, d = len(a) - ddof, len(b) - ddof, a.shape[1]
    if min(len(a), len(b)) < d:
        return float(np.linalg.svd(B @ A.T, compute_uv=False).sum() / np.sqrt(n1 * n2))
    s1, s2 = A.T @ A / n1, B.T @ B / n2
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_from_features(a: np.ndarray, b: np.ndarray, ddof: int = 0) -> float:
    """Fréchet distance of two feature sets [N, D] (float64, covariance over N - ddof)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mu1, s1 = feature_stats(a, ddof)
    mu2, s2 = feature_stats(b, ddof)
    diff = mu1 - mu2
    d = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(a, b, ddof))
    return max(d, 0.0) if d > -1e-9 * max(1.0, float(np.trace(s1) + np.trace(s2))) else d
