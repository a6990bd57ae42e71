"""Caption templates and dataset presets, shipped as package data (ti2v.templates)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """Parse ``templates/<name>`` (e.g. ``captions/mnist.yaml``) with yaml.safe_load."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def preset_names() -> list[str]:
    folder = resources.files(__name__).joinpath("presets")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
