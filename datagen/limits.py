"""The allowed value of every generator setting, and the free-space check, shared by ``ti2v-datagen mnist``,
``cater`` and ``regenerate`` (its presets and ``--set``), so a value is judged the same way wherever it comes from
and before anything is written: a bad command creates no folder and no run.json that would block the corrected one.

Each check raises :class:`click.BadParameter` naming the value and what is allowed (one line, exit 2 through
``errors.run_group``); ``hint`` is the option (``--frames``, ``--set frames``), None inside a click callback,
where click names the option itself.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import click

from .errors import InputError, check_out_dir

SEED_MAX = 2**63 - 1  # shard attributes store the seed as int64; numpy's generators take no negative seed
SEED_RANGE = "0..2**63-1"
MAX_VIDEOS = 10_000_000  # 400x the largest published split (24,000); the run's job list and manifest live in memory
MAX_SHARDS = 100_000  # shard-NNNNN.h5: five digits keep the names in order
MNIST_MAX_FRAMES = 1000  # 50x the published 20; a shard draws 32 videos at once (131 MB at 1000 frames)
CATER_FRAMES = (2, 300)  # CATER's own videos have 300 frames; each video is held in memory while it renders
CATER_RESOLUTION = (16, 1024)  # at 16 px an object spans a few pixels; a 1024 px, 300-frame video is 3.8 GB in memory
CATER_SAMPLES = (1, 4096)  # published 32 (+ denoising); 4096 is Cycles' own default for a final render
CATER_THREADS = (1, 1024)  # Cycles' maximum
SPLITS = ("train", "test")
MAX_OBJECTS = 8  # scene.MAX_OBJECTS (not imported: this module stays free of the renderer's imports)

# Disk estimate: raw bytes / COMPRESSION. Deflate shrinks what ti2v-datagen writes by about 15x (Moving MNIST:
# 80 KiB of pixels -> 5.5 KiB per video with its annotations, docs/BENCHMARKS.md) and 5x (CATER-GEN-v1, 128 px,
# 32 frames: 4.2 MB of RGB, masks and motion field -> 0.77 MB per video); assuming 16x for both keeps the estimate
# below what a run really writes, so only a run that cannot fit is refused.
COMPRESSION = 16


def _hint(hint: str | None) -> dict:
    return {"param_hint": hint} if hint else {}


def integer(value: Any, lo: int, hi: int, hint: str | None = None, why: str = "", hi_text: str | None = None) -> int:
    allowed = f"{lo}..{hi_text or f'{hi:,}'}" + (f" ({why})" if why else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise click.BadParameter(f"{value!r} is not an integer; allowed: {allowed}", **_hint(hint))
    if not lo <= value <= hi:
        raise click.BadParameter(f"{value} is not allowed; allowed: {allowed}", **_hint(hint))
    return value


def number(value: Any, lo: float, hi: float, hint: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise click.BadParameter(f"{value!r} is not allowed; allowed: a number in {lo:g}..{hi:g}", **_hint(hint))
    return float(value)


def choice(value: Any, allowed: tuple[str, ...], hint: str | None = None) -> str:
    if value not in allowed:
        raise click.BadParameter(f"{value!r} is not allowed; allowed: {', '.join(allowed)}", **_hint(hint))
    return value


def boolean(value: Any, hint: str | None = None) -> bool:
    if not isinstance(value, bool):
        raise click.BadParameter(f"{value!r} is not allowed; allowed: true, false", **_hint(hint))
    return value


def seed(value: Any, hint: str | None = None) -> int:
    return integer(value, 0, SEED_MAX, hint, hi_text="2**63-1")


def num_videos(value: Any, hint: str | None = None) -> int:
    return integer(value, 1, MAX_VIDEOS, hint, why="400x the largest published split")


def shard_size(value: Any, hint: str | None = None) -> int:
    return integer(value, 1, MAX_VIDEOS, hint)


def shard_count(videos: int, size: int, hint: str | None = "--shard-size") -> int:
    """At most MAX_SHARDS shards per split."""
    n = math.ceil(videos / size)
    if n > MAX_SHARDS:
        raise click.BadParameter(f"{size} makes {n:,} shards of {videos:,} videos; allowed: at most {MAX_SHARDS:,} "
                                 f"shards per split, so a shard size of at least {math.ceil(videos / MAX_SHARDS):,}",
                                 **_hint(hint))
    return n


def mnist_frames(value: Any, variant: str | None = None, hint: str | None = None) -> int:
    """At least the frames the variant's motions need (mnist.plan.min_frames), at most MNIST_MAX_FRAMES; without a
    variant (a click callback that runs before --variant is read) the least any variant needs."""
    from .mnist.plan import min_frames

    if variant:
        return integer(value, min_frames(variant), MNIST_MAX_FRAMES, hint, why=f"{variant}: at least {min_frames(variant)}")
    return integer(value, min_frames("single"), MNIST_MAX_FRAMES, hint, why=f"modified: at least {min_frames('modified')}")


def cater_frames(value: Any, hint: str | None = None) -> int:
    return integer(value, *CATER_FRAMES, hint)


def resolution(value: Any, hint: str | None = None) -> int:
    return integer(value, *CATER_RESOLUTION, hint, why="square frames, in pixels")


def samples(value: Any, hint: str | None = None) -> int:
    return integer(value, *CATER_SAMPLES, hint, why="Cycles samples per pixel")


def threads(value: Any, hint: str | None = None) -> int | None:
    return None if value is None else integer(value, *CATER_THREADS, hint)


def objects(text: Any, version: str = "v2", hint: str | None = "--objects") -> tuple[int, int]:
    """MIN-MAX or N with 1 <= MIN <= MAX <= 8; v1 always has its two objects (the cone and the snitch)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text)) if isinstance(text, (str, int)) else None
    if not m:
        raise click.BadParameter(f"{text!r} is not MIN-MAX or N (integers, 1 <= MIN <= MAX <= {MAX_OBJECTS})",
                                 **_hint(hint))
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if not 1 <= lo <= hi <= MAX_OBJECTS:
        raise click.BadParameter(f"{text!r} is not allowed; need 1 <= MIN <= MAX <= {MAX_OBJECTS}", **_hint(hint))
    if version == "v1" and (lo, hi) != (2, 2):
        raise click.BadParameter(f"{text!r} is not allowed with version v1, which always has two objects "
                                 "(the cone and the snitch); allowed: 2", **_hint(hint))
    return lo, hi


def option(check: Callable) -> Callable:
    """A click callback that runs ``check`` on the option's value (click names the option in the error)."""

    def callback(ctx, param, value):
        return value if value is None else check(value)

    return callback


# ------------------------------------------------------------------ generator options (presets, --set)
MNIST_OPTIONS = ("variant", "frames", "distractor_prob", "digits")
CATER_OPTIONS = ("version", "objects", "frames", "resolution", "samples", "denoise", "ambiguous", "device", "threads")
GENERATOR_OPTIONS = {"mnist": MNIST_OPTIONS, "cater": CATER_OPTIONS}


def check_options(generator: str, options: dict, hint: Callable[[str], str]) -> None:
    """Every option of a preset's ``options`` (after --set), with the checks the command-line options use.
    ``hint(key)`` names where the value came from (``--set frames`` or ``preset mnist-single: frames``)."""
    allowed = GENERATOR_OPTIONS.get(generator)
    if allowed is None:
        raise InputError(f"generator {generator!r} is not allowed; allowed: {', '.join(GENERATOR_OPTIONS)}")
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not an option of the {generator} generator; allowed: "
                                 f"{', '.join(allowed)}", param_hint=hint(unknown[0]))
    missing = [k for k in allowed if k not in options and not (generator == "cater" and k == "threads")]
    if missing:
        raise InputError(f"{hint(missing[0])} is missing; a {generator} preset sets {', '.join(allowed)}")
    o = options
    if generator == "mnist":
        variant = choice(o["variant"], ("single", "double", "modified"), hint("variant"))
        mnist_frames(o["frames"], variant, hint("frames"))
        number(o["distractor_prob"], 0, 1, hint("distractor_prob"))
        choice(o["digits"], ("mnist", "mnist5k", "sklearn"), hint("digits"))
    else:
        version = choice(o["version"], ("v1", "v2"), hint("version"))
        objects(o["objects"], version, hint("objects"))
        cater_frames(o["frames"], hint("frames"))
        resolution(o["resolution"], hint("resolution"))
        samples(o["samples"], hint("samples"))
        boolean(o["denoise"], hint("denoise"))
        boolean(o["ambiguous"], hint("ambiguous"))
        choice(o["device"], ("cpu", "gpu"), hint("device"))
        threads(o.get("threads"), hint("threads"))


# ------------------------------------------------------------------ free disk space
def video_bytes(generator: str, options: dict) -> int:
    """Raw bytes of one video as stored: Moving MNIST 64x64x1 per frame; CATER-GEN RGB (3), instance mask (1) and
    float16 motion field (4) per pixel and frame."""
    if generator == "mnist":
        return int(options["frames"]) * 64 * 64
    return int(options["frames"]) * int(options["resolution"]) ** 2 * (3 + 1 + 4)


def videos_to_make(split_dir: Path, videos: int, size: int, shard_index: int | None = None,
                   num_shards: int | None = None) -> int:
    """Videos of this run's share that no shard file holds yet (a resumed run needs room only for the rest)."""
    total = 0
    for index, start in enumerate(range(0, videos, size)):
        if num_shards is not None and index % num_shards != shard_index:
            continue
        if not (Path(split_dir) / f"shard-{index:05d}.h5").exists():
            total += min(size, videos - start)
    return total


def free_bytes(path: Path) -> int:
    """Free bytes on the file system of ``path`` (a function of its own, so tests can fake a full disk)."""
    return shutil.disk_usage(path).free


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def check_free_space(out: str | Path, needed: int, what: str = "", option: str = "--out") -> None:
    """Refuse a run whose estimated output (``needed`` bytes; ``what`` says how it was estimated) exceeds the free
    space where ``out`` goes."""
    probe = Path(out).absolute()
    while not probe.exists():
        probe = probe.parent
    free = free_bytes(probe)
    if needed > free:
        raise click.BadParameter(
            f"{out} has {_size(free)} free but this run needs about {_size(needed)}{f' ({what})' if what else ''}; "
            "free space, choose another folder or make fewer or smaller videos", param_hint=option)


def check_room(out, generator: str, options: dict, sizes: dict[str, int], size: int, execution) -> None:
    """Before anything is created: ``out`` can be made and written, and has room for the shards still missing
    (``sizes``: videos per split; ``execution``: this run's share of them)."""
    check_out_dir(out)
    for split in sizes:
        check_out_dir(Path(out) / split)
    videos = sum(videos_to_make(Path(out) / split, n, size, execution.shard_index, execution.num_shards)
                 for split, n in sizes.items())
    raw = video_bytes(generator, options)
    check_free_space(out, raw * videos // COMPRESSION,
                     f"{videos:,} videos of {_size(raw)} raw, assuming deflate shrinks them {COMPRESSION}x")
