"""Procedural shapes, twice: as triangle/quad meshes for Blender and as exact ray intersections for the masks.

Both describe the same unit solids (half extent s = 1, base at z = 0; scaled by s and posed by the plan):
cube [-1,1]^2 x [0,2]; sphere centre (0,0,1) radius 1; cylinder radius 1 height 2; cone base radius 1 apex at
z = 2; snitch three upright tori (see scene.py). Mesh vertices lie on the exact surfaces (inscribed polygons,
48 segments: silhouettes differ by < 0.3% of the size), so masks from :func:`intersect` match Cycles' pixels.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .scene import SNITCH_ANGLES, SNITCH_MAJOR, SNITCH_MINOR

SEGMENTS = 48
INF = np.inf


# ----------------------------------------------------------------------------------------------- meshes
def _ring(n: int, radius: float, z: float) -> np.ndarray:
    a = np.arange(n) * 2 * math.pi / n
    return np.stack([radius * np.cos(a), radius * np.sin(a), np.full(n, z)], 1)


@functools.lru_cache(maxsize=None)
def unit_mesh(shape: str) -> tuple[np.ndarray, list[tuple[int, ...]], list[bool]]:
    """(vertices [V, 3], faces, smooth flag per face) of the unit solid."""
    n = SEGMENTS
    if shape == "cube":
        v = np.array([[x, y, z] for z in (0, 2) for y in (-1, 1) for x in (-1, 1)], float)
        faces = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
        return v, faces, [False] * 6
    if shape == "sphere":
        rings = n // 2
        verts = [[0, 0, 0.0]]
        for i in range(1, rings):
            t = math.pi * i / rings
            verts.extend(_ring(n, math.sin(t), 1 - math.cos(t)).tolist())
        verts.append([0, 0, 2.0])
        faces = [(0, 1 + (j + 1) % n, 1 + j) for j in range(n)]
        for i in range(rings - 2):
            a, b = 1 + i * n, 1 + (i + 1) * n
            faces += [(a + j, a + (j + 1) % n, b + (j + 1) % n, b + j) for j in range(n)]
        top = len(verts) - 1
        last = 1 + (rings - 2) * n
        faces += [(last + j, last + (j + 1) % n, top) for j in range(n)]
        return np.array(verts), faces, [True] * len(faces)
    if shape in ("cylinder", "cone"):
        bottom = _ring(n, 1, 0)
        top = _ring(n, 1, 2) if shape == "cylinder" else np.tile([[0, 0, 2.0]], (n, 1))
        v = np.concatenate([bottom, top, _ring(n, 1, 0)] + ([_ring(n, 1, 2)] if shape == "cylinder" else []))
        faces = [(j, (j + 1) % n, n + (j + 1) % n, n + j) for j in range(n)] if shape == "cylinder" else [
            (j, (j + 1) % n, n + j) for j in range(n)
        ]
        smooth = [True] * len(faces)
        faces.append(tuple(2 * n + j for j in reversed(range(n))))
        smooth.append(False)
        if shape == "cylinder":
            faces.append(tuple(3 * n + j for j in range(n)))
            smooth.append(False)
        return v, faces, smooth
    if shape == "snitch":
        minor_n = 16
        verts, faces = [], []
        for deg in SNITCH_ANGLES:
            c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
            base = len(verts)
            for i in range(n):
                u = 2 * math.pi * i / n
                for j in range(minor_n):
                    w = 2 * math.pi * j / minor_n
                    rr = SNITCH_MAJOR + SNITCH_MINOR * math.cos(w)
                    px, py, pz = rr * math.cos(u), SNITCH_MINOR * math.sin(w), rr * math.sin(u)  # ring in x-z plane
                    verts.append([c * px - s * py, s * px + c * py, pz + 1.0])
            for i in range(n):
                for j in range(minor_n):
                    a = base + i * minor_n + j
                    b = base + ((i + 1) % n) * minor_n + j
                    a2 = base + i * minor_n + (j + 1) % minor_n
                    b2 = base + ((i + 1) % n) * minor_n + (j + 1) % minor_n
                    faces.append((a, a2, b2, b))  # outward normals
        return np.array(verts), faces, [True] * len(faces)
    raise ValueError(f"unknown shape {shape!r}")


def rotation_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def world_vertices(shape: str, half: float, base: np.ndarray, yaw: float) -> np.ndarray:
    v, _, _ = unit_mesh(shape)
    return (v * half) @ rotation_z(yaw).T + np.asarray(base)


# ----------------------------------------------------------------------------------------------- rays
def _smallest_valid(ts: list[np.ndarray]) -> np.ndarray:
    t = np.full(ts[0].shape, INF)
    for c in ts:
        t = np.where((c > 1e-9) & (c < t), c, t)
    return t


def _quadratic(a, b, c):
    disc = b * b - 4 * a * c
    ok = (disc >= 0) & (np.abs(a) > 1e-12)
    sq = np.sqrt(np.where(ok, disc, 0))
    a_safe = np.where(ok, a, 1)
    t1 = np.where(ok, (-b - sq) / (2 * a_safe), INF)
    t2 = np.where(ok, (-b + sq) / (2 * a_safe), INF)
    return t1, t2


def _cap(o, d, z, radius=1.0):
    dz = np.where(np.abs(d[:, 2]) > 1e-12, d[:, 2], 1e-12)
    t = (z - o[2]) / dz
    p = o[None] + t[:, None] * d
    return np.where(p[:, 0] ** 2 + p[:, 1] ** 2 <= radius**2, t, INF)


def _snitch_sdf(p: np.ndarray) -> np.ndarray:
    q = p - np.array([0, 0, 1.0])
    best = np.full(len(p), INF)
    for deg in SNITCH_ANGLES:
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        x = c * q[:, 0] + s * q[:, 1]  # rotate by -deg: into the torus frame (ring in x-z plane, axis y)
        y = -s * q[:, 0] + c * q[:, 1]
        ring = np.sqrt(x * x + q[:, 2] ** 2) - SNITCH_MAJOR
        best = np.minimum(best, np.sqrt(ring * ring + y * y) - SNITCH_MINOR)
    return best


def intersect(shape: str, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Ray parameter of the first hit with the unit solid, inf on a miss. o: [3] origin, d: [N, 3] directions
    (both in the solid's unit frame; d need not be normalised)."""
    x, y, z = o
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    if shape == "cube":
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.array([-1, -1, 0.0])
            hi = np.array([1, 1, 2.0])
            inv = 1.0 / np.where(np.abs(d) > 1e-12, d, 1e-12)
            t0 = (lo[None] - o[None]) * inv
            t1 = (hi[None] - o[None]) * inv
            tn = np.minimum(t0, t1).max(1)
            tf = np.maximum(t0, t1).min(1)
        return np.where((tn <= tf) & (tn > 1e-9), tn, INF)
    if shape == "sphere":
        oc = o - np.array([0, 0, 1.0])
        t1, t2 = _quadratic((d * d).sum(1), 2 * (d @ oc), np.full(len(d), oc @ oc - 1))
        return _smallest_valid([t1, t2])
    if shape == "cylinder":
        t1, t2 = _quadratic(dx * dx + dy * dy, 2 * (x * dx + y * dy), np.full(len(d), x * x + y * y - 1))
        side = [np.where((z + t * dz >= 0) & (z + t * dz <= 2), t, INF) for t in (t1, t2)]
        return _smallest_valid(side + [_cap(o, d, 0.0), _cap(o, d, 2.0)])
    if shape == "cone":
        a0, a1 = 1 - 0.5 * z, -0.5 * dz
        t1, t2 = _quadratic(dx * dx + dy * dy - a1 * a1, 2 * (x * dx + y * dy - a0 * a1), x * x + y * y - a0 * a0)
        side = [np.where((z + t * dz >= 0) & (z + t * dz <= 2), t, INF) for t in (t1, t2)]
        return _smallest_valid(side + [_cap(o, d, 0.0)])
    if shape == "snitch":
        # sphere-trace the exact torus distance inside the bounding sphere (centre (0,0,1), radius 1)
        dn = np.linalg.norm(d, axis=1)
        u = d / dn[:, None]
        oc = o - np.array([0, 0, 1.0])
        b = u @ oc
        c = oc @ oc - 1.0001
        disc = b * b - c
        inside = disc > 0
        sq = np.sqrt(np.where(inside, disc, 0))
        t = np.maximum(-b - sq, 0)
        t_exit = -b + sq
        hit = np.zeros(len(d), bool)
        active = inside.copy()
        for _ in range(96):
            if not active.any():
                break
            idx = np.nonzero(active)[0]
            dist = _snitch_sdf(o[None] + t[idx, None] * u[idx])
            done = dist < 1e-5
            hit[idx[done]] = True
            t[idx] += np.where(done, 0, dist)
            active[idx[done | (t[idx] > t_exit[idx])]] = False
        return np.where(hit, t / dn, INF)
    raise ValueError(f"unknown shape {shape!r}")
