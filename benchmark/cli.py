"""``ti2v-bench``: evaluate a TI2V model on the shards, and manage the metric networks' weights."""

from __future__ import annotations

import json
import sys

import click

from ti2v.datagen import limits
from ti2v.datagen.errors import check_out_dir

from . import weights as W


def _speed(ctx, param, value):
    if value == "random":
        return value
    try:
        v = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither 'random' nor a number in [0, 1]") from None
    if not 0.0 <= v <= 1.0:
        raise click.BadParameter(f"{value!r} is outside [0, 1]")
    return v


def _metrics(ctx, param, value):
    from .evaluate import ALL_METRICS

    if not value:
        return None
    names = [m.strip() for v in value for m in v.split(",") if m.strip()]
    bad = [m for m in names if m not in ALL_METRICS]
    if bad:
        raise click.BadParameter(f"unknown metric {bad[0]!r}; choose from {', '.join(ALL_METRICS)}")
    return tuple(names)


def _resize(ctx, param, value):
    out = {}
    for part in (value or "").split(","):
        if not part.strip():
            continue
        k, _, v = part.partition("=")
        if k not in ("inception", "i3d", "vgg") or not v.isdigit():
            raise click.BadParameter(f"{part!r}: expected inception=N, i3d=N or vgg=N")
        out[k] = int(v)
    return out


def _from_inputs(ctx, folder, split, captions, speed, seed):
    """--inputs: the export's settings replace the defaults; one given on the command line must agree."""
    from .inputs import load_inputs

    try:
        header, lines = load_inputs(folder)
    except ValueError as e:
        raise click.BadParameter(str(e).removeprefix(f"--inputs {folder}: "), param_hint="--inputs") from None
    given = {"split": split, "captions": captions, "speed": speed, "seed": seed}
    for name, value in given.items():
        explicit = ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        if explicit and value != header[name]:
            raise click.BadParameter(f"{value!r} disagrees with the inputs in {folder} ({header[name]!r}); drop "
                                     f"--{name}", param_hint=f"--{name}")
    return header["split"], header["captions"], header["speed"], header["seed"], lines


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="ti2v")
def main():
    """Benchmark for text-image-to-video generation on ti2v shards: `evaluate` scores a model, `inputs` exports
    what an outside model is given, `weights` manages the metric networks, `judge` the CATER-GEN judge."""


@main.command()
@click.argument("model")
@click.option("--data", required=True, type=click.Path(), help="dataset folder (OUT or OUT/<split>)")
@click.option("--split", default="test", show_default=True, help="split folder inside --data")
@click.option("--captions", type=click.Choice(["explicit", "ambiguous"]), default="explicit", show_default=True,
              help="which caption of each clip the model is given")
@click.option("--samples", type=click.IntRange(min=1), default=None, help="samples per clip [1 explicit, 5 ambiguous]")
@click.option("--metrics", multiple=True, callback=_metrics,
              help="comma-separated subset of psnr,ssim,lpips,fid,fvd,div_vgg,div_i3d,control")
@click.option("--speed", default="random", callback=_speed, show_default=True, help="eta in [0,1] or 'random'")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="evaluate the first N clips only")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="clips per batch of the metric networks")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: the GPU when there is one")
@click.option("--seed", type=int, default=0, show_default=True, callback=limits.option(limits.seed),
              help=f"draws the random speeds and every generation seed ({limits.SEED_RANGE}); same seed, same report")
@click.option("--out", type=click.Path(), default=None, help="report folder (report.json, report.md, PNG/GIF)")
@click.option("--strict", is_flag=True, help="fail instead of skipping metrics whose weights are missing")
@click.option("--vqvae", type=click.Path(), default=None, help="VQ-VAE checkpoint for the oracle baseline")
@click.option("--random-weights", is_flag=True, help="random-init feature networks (timing and pipeline tests only)")
@click.option("--judge", type=click.Path(dir_okay=False), default=None,
              help="what locates CATER-GEN objects: 'shipped' (default: the learned judge in the package, sha256 "
                   "pinned), a judge file from `ti2v-bench judge train`, or 'template' (template matching, no "
                   "weights; slow and broken by JPEG or a colour gain); reports name it and its sha256")
@click.option("--trajectory-control", is_flag=True,
              help="also give models that take trajectories one object's true centre track per clip (a second "
                   "sample, same seed) and report how far the generated object strays from it (pixels)")
@click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False), default=None,
              help="folder written by `ti2v-bench inputs`: draw the clips exactly as it says (split, captions, "
                   "speed, seed) and check each clip against it; for video folders made from those inputs")
@click.option("--no-verify", "no_verify", is_flag=True,
              help="skip checking the sha256 of the scored shards against manifest.json (checked by default, its "
                   "time reported; a changed file is refused)")
@click.option("--fvd-extractor", type=click.Choice(["stylegan-v", "tats"]), default="stylegan-v", show_default=True,
              help="I3D for FVD and I3D diversity: StyleGAN-V's i3d_torchscript.pt, or TATS/VideoGPT's "
                   "i3d_pretrained_400.pt (TF-SAME padding); their FVDs differ, compare like with like")
@click.option("--feature-resize", callback=_resize, default="", hidden=True)
@click.pass_context
def evaluate(ctx, model, data, split, captions, samples, metrics, speed, limit, batch_size, device, seed, out, strict,
             vqvae, random_weights, judge, trajectory_control, inputs_dir, no_verify, fvd_extractor, feature_resize):
    """Score MODEL on the DATA shards. MODEL is a model.ckpt (MAGE or Motion-I2V-style), motion-i2v:<dataset>
    (a shipped checkpoint), module:callable, a folder of videos (see `ti2v-bench inputs`), static or oracle."""
    from pathlib import Path

    from ti2v.datagen.shard import ShardFormatError

    from .evaluate import EvalConfig, MetricUnavailable
    from .evaluate import evaluate as run
    from .models_adapter import ModelError
    from .report import checksum_line, markdown

    if out:
        check_out_dir(out)
    lines = None
    if inputs_dir:
        split, captions, speed, seed, lines = _from_inputs(ctx, inputs_dir, split, captions, speed, seed)
    elif Path(model).is_dir():
        click.echo("note: a video folder is scored against clips drawn with --split/--captions/--speed/--seed "
                   "as given here; export the inputs with `ti2v-bench inputs` and pass --inputs to have them "
                   "checked", err=True)
    cfg = EvalConfig(model=model, data=data, split=split, captions=captions, samples=samples, metrics=metrics,
                     speed=speed, limit=limit, batch_size=batch_size, device=device, seed=seed, out=out,
                     strict=strict, random_weights=random_weights, resize=feature_resize, vqvae=vqvae,
                     judge=judge, trajectory_control=trajectory_control, inputs=lines, verify=not no_verify,
                     fvd_extractor=fvd_extractor)
    from ti2v.datagen.progress import progress_bar

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total, "evaluate", unit="clip")
        bar.update(done - bar.n)

    try:
        report = run(cfg, progress=progress)
    except (ModelError, MetricUnavailable, ShardFormatError, FileNotFoundError, ValueError) as e:  # JudgeError too
        raise click.UsageError(str(e)) from None
    except KeyError as e:
        raise click.UsageError(str(e.args[0]) if e.args else str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    click.echo(markdown(report))
    click.echo(checksum_line(report), err=True)
    if out:
        click.echo(f"report written to {out}", err=True)


@main.command()
@click.option("--data", required=True, type=click.Path(), help="dataset folder (OUT or OUT/<split>)")
@click.option("--split", default="test", show_default=True, help="split folder inside --data")
@click.option("--captions", type=click.Choice(["explicit", "ambiguous"]), default="explicit", show_default=True,
              help="which caption of each clip to export")
@click.option("--speed", default="random", callback=_speed, show_default=True,
              help="eta in [0,1] for every clip, or 'random' (each clip's eta drawn from --seed and its index)")
@click.option("--seed", type=int, default=0, show_default=True, callback=limits.option(limits.seed),
              help=f"the seed `evaluate` will be run with ({limits.SEED_RANGE})")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="the first N clips only")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="folder for the inputs")
def inputs(data, split, captions, speed, seed, limit, out):
    """Write the benchmark's inputs for a model outside Python: first frames as PNG and one JSONL line per clip
    (index, caption, eta, frames, raw frame indices). Put the videos in OUT/videos/<index>.npy (.gif, .mp4) and
    score them with `ti2v-bench evaluate OUT/videos --data DATA --inputs OUT`."""
    from ti2v.datagen.errors import ensure_writable_dir
    from ti2v.datagen.progress import progress_bar

    from .data import ClipReader
    from .inputs import export_inputs

    try:
        reader = ClipReader(data, split, captions, speed, seed, 10, limit)
    except (FileNotFoundError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--data") from None
    ensure_writable_dir(out)
    bar = progress_bar(len(reader), "inputs", unit="clip")
    try:
        header = export_inputs(reader, out, progress=lambda done, total: bar.update(done - bar.n))
    finally:
        bar.close()
    click.echo(f"{header['clips']} clips of {header['dataset']} ({header['split']}) written to {out}", err=True)


@main.group()
def weights():
    """Pretrained weights of the metric networks ($TI2V_WEIGHTS, then $TORCH_HOME/hub/checkpoints)."""


@weights.command("list")
def weights_list():
    """Known weight files and where they were found ($TI2V_WEIGHTS first, then the torch hub cache)."""
    click.echo("searched: " + ", ".join(str(d) for d in W.search_dirs()))
    for r in W.describe_all():
        where = r["found"] or f"missing (ti2v-bench weights fetch {r['name']})"
        click.echo(f"{r['name']:14s} {r['file']:42s} {where}\n{'':14s} {r['used_for']}")


@weights.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every known weight file")
@click.option("--url-base", default=None, help="mirror: URL prefix replacing the registry's (file name appended)")
@click.option("--force", is_flag=True, help="download again even when a verified copy is present")
def weights_fetch(names, all_, url_base, force):
    """Download weight files (checksum-verified, temp file then rename)."""
    names = list(W.REGISTRY) if all_ else list(names)
    if not names:
        raise click.UsageError("name a weights file (see `ti2v-bench weights list`) or pass --all")
    for n in names:
        if n not in W.REGISTRY:
            raise click.BadParameter(f"unknown weights {n!r}; known: {', '.join(W.REGISTRY)}", param_hint="NAMES")
    failed = False
    for n in names:
        try:
            p = W.fetch(n, base_url=url_base, force=force)
            click.echo(f"{n}: {p}")
        except W.ChecksumError as e:
            click.echo(f"{n}: checksum mismatch: {e}", err=True)
            failed = True
        except OSError as e:
            click.echo(f"{n}: download failed: {e}", err=True)
            failed = True
    sys.exit(1 if failed else 0)


@weights.command("verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
def weights_verify(names, as_json):
    """Check the files found against their published checksums."""
    names = list(names) or list(W.REGISTRY)
    for n in names:
        if n not in W.REGISTRY:
            raise click.BadParameter(f"unknown weights {n!r}; known: {', '.join(W.REGISTRY)}", param_hint="NAMES")
    rows = [W.verify(n) for n in names]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
    else:
        for r in rows:
            extra = r.get("sha256", "") if r["status"] != "missing" else r["command"]
            click.echo(f"{r['name']:14s} {r['status']:18s} {extra}")
    sys.exit(1 if any(r["status"] == "checksum mismatch" for r in rows) else 0)


@main.group()
def judge():
    """CATER-GEN judges: what locates objects for the controllability scores (default: the shipped learned judge)."""


@judge.command("train")
@click.option("--preset", default="judge-cater", show_default=True,
              help="judge preset (templates/presets/judge-*.yaml) or a YAML file: render seeds, settings, schedule")
@click.option("--data", type=click.Path(file_okay=False), default="runs/judge/data", show_default=True,
              help="folder for the training renders (made if missing, resumed if partial)")
@click.option("--out", type=click.Path(dir_okay=False), default="runs/judge/cater-judge.safetensors",
              show_default=True, help="judge file to write (metrics log beside it as .jsonl)")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Blender workers")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="override the preset's step count")
@click.option("--max-minutes", type=click.FloatRange(min=0.1), default=None, help="stop training after this")
def judge_train(preset, data, out, workers, steps, max_minutes):
    """Render the preset's training splits and train the judge on their exact labels.

    Example: ti2v-bench judge train --preset judge-cater --workers 2
    """
    from pathlib import Path

    from .judge_train import load_preset, train_from_preset

    info = train_from_preset(load_preset(preset), Path(data), Path(out), workers=workers, max_minutes=max_minutes,
                             steps=steps)
    click.echo(f"judge written to {out}: {info['steps']} steps in {info['minutes']} min on {info['clips']} clips, "
               f"sha256 {info['sha256']}")


@judge.command("info")
@click.argument("path", required=False)
def judge_info(path):
    """Show a judge's file, checksum, training renders and run (default: the one evaluate uses)."""
    from .judge import Judge

    j = Judge.load(path)
    click.echo(json.dumps(dict(j.describe(), **({"path": str(j.path)} if j.path else {})), indent=1, default=str))


def cli_main() -> None:
    """Console entry point: bad input is one line naming the bad value, and exit 2."""
    from ti2v.datagen.errors import run_group

    run_group(main)


if __name__ == "__main__":
    cli_main()
