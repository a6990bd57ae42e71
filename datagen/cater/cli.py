"""``ti2v-datagen cater``: render a CATER-GEN split with Blender (register with ``main.add_command(cater)``).

``--objects`` takes MIN-MAX or N with 1 <= MIN <= MAX <= 8 (the published v2 is 3-8, the default; docs/DATASETS.md,
CATER-GEN; smaller counts are
allowed for tiny runs); v1 always has its two objects (cone and snitch): the value is checked, then ignored.
Output: OUT/<split>/shard-*.h5 (+ run.json, manifest.json) through the shared runner, so a killed run resumes.
"""

from __future__ import annotations

import re

import click

from ..errors import InputError, ensure_writable_dir, positive_int
from ..run_options import execution_options
from .scene import MAX_OBJECTS



def parse_objects(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text or "")
    if not m:
        raise click.BadParameter(f"{text!r} is not MIN-MAX or N (integers, 1 <= MIN <= MAX <= {MAX_OBJECTS})", param_hint="--objects")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if not 1 <= lo <= hi <= MAX_OBJECTS:
        raise click.BadParameter(f"{text!r} is not allowed; need 1 <= MIN <= MAX <= {MAX_OBJECTS}", param_hint="--objects")
    return lo, hi


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    return value


@click.command("cater")
@click.option("--version", "version", default="v2", show_default=True, help="CATER-GEN version: v1 (cone + snitch) or v2.")
@click.option("--objects", default=None, help="v2 object count MIN-MAX or N (1..8) [default: 3-8]; v1 always has 2.")
@click.option("--ambiguous", is_flag=True, help="Make the ambiguous caption the default one (both are always stored).")
@click.option("--split", default="train", show_default=True, help="train or test.")
@click.option("--num-videos", type=int, required=True,
              help="Videos in the split (the published sizes: v1 3500 train / 1500 test, v2 24000 / 6000).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder; the split goes to OUT/<split>.")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed; scene plans and shard seeds derive from it.")
@click.option("--resolution", type=int, default=128, show_default=True, help="Square frame size in pixels.")
@click.option("--frames", type=int, default=32, show_default=True, help="Raw frames per video.")
@click.option("--samples", type=int, default=32, show_default=True, help="Cycles samples per pixel.")
@click.option("--denoise/--no-denoise", default=True, show_default=True, help="OpenImageDenoise.")
@click.option("--device", default="cpu", show_default=True, help="cpu or gpu (OPTIX/CUDA/HIP).")
@click.option("--threads", type=int, default=None, help="Cycles threads per worker (default: all cores / workers).")
@click.option("--shard-size", type=int, default=32, show_default=True, help="Videos per shard (the unit of resume).")
@execution_options
def cater(version, objects, ambiguous, split, num_videos, out, seed, resolution, frames, samples, denoise, device, threads, shard_size, execution):
    """Render CATER-GEN videos with Blender (Cycles) into shards: RGB, masks, motion field, scene state, captions."""
    from .job import generate_split

    version = _choice(version, ("v1", "v2"), "--version")
    split = _choice(split, ("train", "test"), "--split")
    device = _choice(device, ("cpu", "gpu"), "--device")
    if version == "v1" and objects is not None and objects != "2":
        raise click.BadParameter(f"{objects!r} is not allowed with --version v1, which always has two objects "
                                 "(the cone and the snitch); drop --objects", param_hint="--objects")
    objects = objects or "3-8"
    parse_objects(objects)
    for value, option in ((resolution, "--resolution"), (frames, "--frames"), (samples, "--samples"), (shard_size, "--shard-size")):
        positive_int(value, option)
    if frames < 2:
        raise click.BadParameter(f"{frames} is not allowed; a video needs at least 2 frames", param_hint="--frames")
    if threads is not None:
        positive_int(threads, "--threads")
    positive_int(num_videos, "--num-videos")
    out_dir = ensure_writable_dir(out)
    ensure_writable_dir(out_dir / split)
    options = dict(version=version, objects=objects, frames=frames, resolution=resolution, samples=samples,
                   denoise=denoise, device=device, threads=threads, ambiguous=ambiguous)
    try:
        split_dir, manifest = generate_split(out_dir, split, num_videos, shard_size, seed, options, execution)
    except InputError as e:
        raise click.UsageError(str(e)) from None
    if manifest is None:
        click.echo(f"this share of {split_dir} is done; manifest.json is written by the run that completes the split", err=True)
    else:
        click.echo(f"wrote {manifest['num_videos']} videos in {len(manifest['shards'])} shards to {split_dir}", err=True)


if __name__ == "__main__":
    cater()
