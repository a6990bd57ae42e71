"""Shared fixtures: one tiny real CATER-GEN render for the judge's tests (Blender, 64 px, few frames)."""

from __future__ import annotations

import pytest

TINY = dict(resolution=64, samples=8, denoise=True, frames=12, device="cpu", threads=2)


@pytest.fixture(scope="session")
def tiny_cater(tmp_path_factory):
    """A 6-clip CATER-GEN-v2 test split (3-5 objects) rendered by the real pipeline, seed 77."""
    pytest.importorskip("bpy")
    from ti2v.datagen.cater.job import generate_split

    root = tmp_path_factory.mktemp("tiny-cater") / "cater-gen-v2"
    split_dir, manifest = generate_split(root, "test", 6, 6, 77, dict(TINY, version="v2", objects="3-5"))
    assert manifest is not None
    return root
