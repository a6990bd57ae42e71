"""``ti2v-datagen cater``: render a CATER-GEN split with Blender (register with ``main.add_command(cater)``).

``--objects`` takes MIN-MAX or N with 1 <= MIN <= MAX <= 8 (the published v2 is 3-8, the default; docs/DATASETS.md,
CATER-GEN; smaller counts are
allowed for tiny runs); v1 always has its two objects (cone and snitch): the value is checked, then ignored.
Output: OUT/<split>/shard-*.h5 (+ run.json, manifest.json) through the shared runner, so a killed run resumes.
"""

from __future__ import annotations

import click

from .. import limits
from ..errors import InputError, ensure_writable_dir
from ..run_options import execution_options


def parse_objects(text: str) -> tuple[int, int]:
    """(MIN, MAX) of a v2 --objects value (limits.objects: presets and regenerate --set are checked by it too)."""
    return limits.objects(text, "v2", "--objects")


@click.command("cater")
@click.option("--version", "version", default="v2", show_default=True, help="CATER-GEN version: v1 (cone + snitch) or v2.")
@click.option("--objects", default=None, help="v2 object count MIN-MAX or N (1..8) [default: 3-8]; v1 always has 2.")
@click.option("--ambiguous", is_flag=True, help="Make the ambiguous caption the default one (both are always stored).")
@click.option("--split", default="train", show_default=True, help="train or test.")
@click.option("--num-videos", type=int, required=True, callback=limits.option(limits.num_videos),
              help=f"Videos in the split, 1..{limits.MAX_VIDEOS:,} (the published sizes: v1 3500 train / 1500 test, "
                   "v2 24000 / 6000).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder; the split goes to OUT/<split>.")
@click.option("--seed", type=int, default=0, show_default=True, callback=limits.option(limits.seed),
              help=f"Run seed ({limits.SEED_RANGE}); scene plans and shard seeds derive from it.")
@click.option("--resolution", type=int, default=128, show_default=True, callback=limits.option(limits.resolution),
              help="Square frame size in pixels, %d..%d." % limits.CATER_RESOLUTION)
@click.option("--frames", type=int, default=32, show_default=True, callback=limits.option(limits.cater_frames),
              help="Raw frames per video, %d..%d." % limits.CATER_FRAMES)
@click.option("--samples", type=int, default=32, show_default=True, callback=limits.option(limits.samples),
              help="Cycles samples per pixel, %d..%d." % limits.CATER_SAMPLES)
@click.option("--denoise/--no-denoise", default=True, show_default=True, help="OpenImageDenoise.")
@click.option("--device", default="cpu", show_default=True, help="cpu or gpu (OPTIX/CUDA/HIP).")
@click.option("--threads", type=int, default=None, callback=limits.option(limits.threads),
              help="Cycles threads per worker, %d..%d (default: all cores / workers)." % limits.CATER_THREADS)
@click.option("--shard-size", type=int, default=32, show_default=True, callback=limits.option(limits.shard_size),
              help=f"Videos per shard (the unit of resume); at most {limits.MAX_SHARDS:,} shards per split.")
@execution_options
def cater(version, objects, ambiguous, split, num_videos, out, seed, resolution, frames, samples, denoise, device, threads, shard_size, execution):
    """Render CATER-GEN videos with Blender (Cycles) into shards: RGB, masks, motion field, scene state, captions."""
    from .job import check_device, generate_split

    version = limits.choice(version, ("v1", "v2"), "--version")
    split = limits.choice(split, ("train", "test"), "--split")
    device = limits.choice(device, ("cpu", "gpu"), "--device")
    if version == "v1" and objects is not None:
        limits.objects(objects, "v1", "--objects")  # checked, then ignored: v1 is always the cone and the snitch
    objects = objects or "3-8"
    parse_objects(objects)
    limits.shard_count(num_videos, shard_size)
    options = dict(version=version, objects=objects, frames=frames, resolution=resolution, samples=samples,
                   denoise=denoise, device=device, threads=threads, ambiguous=ambiguous)
    limits.check_room(out, "cater", options, {split: num_videos}, shard_size, execution)
    check_device(device)  # before anything is written
    out_dir = ensure_writable_dir(out)
    ensure_writable_dir(out_dir / split)
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
