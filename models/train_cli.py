"""``ti2v-train``: train the reference MAGE (stage 1 ``vqvae``, stage 2 ``mage``) and the Motion-I2V-style
baseline (``motion-i2v``, both of its stages in one run) and the MMVID-style baseline (``mmvid``, on stage 1's
VQ-VAE).

    ti2v-train vqvae --preset mnist-single --data OUT --out runs/ms/vqvae
    ti2v-train mage  --preset mnist-single --data OUT --vqvae runs/ms/vqvae/vqvae.ckpt --out runs/ms/mage
    ti2v-train motion-i2v --preset mnist-single --data OUT --out runs/ms/motion-i2v
    ti2v-train mmvid --preset mnist-single --data OUT --vqvae runs/ms/vqvae/vqvae.ckpt --out runs/ms/mmvid
    torchrun --nproc_per_node 8 -m ti2v.models.train_cli mage ...        # DistributedDataParallel

``--data`` is a dataset folder ``OUT`` (the split folder ``OUT/<split>`` is used) or a split folder itself.
``--set section.key=value`` overrides any preset value (sections: data, vqvae, mage, vqvae_train, mage_train, motion_i2v, motion_i2v_train, mmvid,
mmvid_train),
e.g. ``--set mage.d_model=128 --set mage_train.lr=3e-4``. A run resumes from ``--out/last.ckpt`` unless
``--no-resume``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ti2v.datagen.errors import check_out_dir

from .config import load_preset, replace


def _preset_names() -> list[str]:
    from importlib.resources import files

    return sorted(p.name[len("train-"):-len(".yaml")] for p in files("ti2v.templates").joinpath("presets").iterdir()
                  if p.name.startswith("train-") and p.name.endswith(".yaml"))


def _common(f):
    opts = [
        click.option("--preset", default="mnist-single", show_default=True,
                     help=f"one of {', '.join(_preset_names())} (templates/presets/train-<name>.yaml), or a YAML "
                          "path"),
        click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
                     help="dataset folder OUT (with OUT/<split>) or a split folder"),
        click.option("--out", required=True, type=click.Path(file_okay=False), help="run folder"),
        click.option("--split", default="train", show_default=True, help="split folder of --data to train on"),
        click.option("--eval-split", default="test", show_default=True,
                     help="split evaluated during and after training ('' to skip evaluation)"),
        click.option("--device", default=None, callback=_device,
                     help="cpu, cuda, cuda:1 (default: cuda when available)"),
        click.option("--steps", type=click.IntRange(min=1), default=None, help="override <stage>_train.steps"),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="override <stage>_train.batch_size (clips per step and process)"),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="override <stage>_train.lr (the peak learning rate)"),
        click.option("--workers", type=click.IntRange(min=0), default=None, help="DataLoader workers"),
        click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="stop (and save) after this wall time"),
        click.option("--resume/--no-resume", default=True, show_default=True,
                     help="continue from --out/last.ckpt when it exists"),
        click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="override one preset value, e.g. mage.d_model=128 (repeatable; values parsed as YAML)"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _device(ctx, param, value):
    """cpu, cuda or cuda:N (a GPU that is there), checked before anything is read or written."""
    if value is None:
        return None
    import torch

    v = value.strip().lower()
    if v == "cpu":
        return v
    if v == "cuda" or (v.startswith("cuda:") and v[5:].isdigit()):
        if not torch.cuda.is_available():
            raise click.BadParameter(f"{value!r}: CUDA is not available on this machine; use --device cpu")
        if ":" in v and int(v[5:]) >= torch.cuda.device_count():
            raise click.BadParameter(f"{value!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                                     f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return v
    raise click.BadParameter(f"{value!r} is not a device; allowed: cpu, cuda, cuda:N")


def _preset(preset, overrides, stage, steps, batch_size, lr, workers):
    try:
        cfg = load_preset(preset, overrides)
    except FileNotFoundError as e:
        raise click.BadParameter(str(e), param_hint="--preset") from None
    except (ValueError, KeyError, TypeError) as e:
        raise click.BadParameter(str(e), param_hint="--preset/--set") from None
    key = f"{stage}_train"
    changes = {k: v for k, v in dict(steps=steps, batch_size=batch_size, lr=lr, num_workers=workers).items()
               if v is not None}
    cfg[key] = replace(cfg[key], **changes)
    return cfg


def _finish(row: dict, out: str) -> None:
    """The last line of a run: its final evaluation (if any) and where the run folder is; only on rank 0."""
    import os

    from .train import describe

    if os.environ.get("RANK", "0") != "0":
        return
    click.echo((f"final evaluation: {describe(row)}\n" if row else "") + f"run folder: {out}")


def _split_arg(data: str, split: str | None) -> tuple[str, str | None]:
    """A split folder given directly (holds shard files) is used as is."""
    p = Path(data)
    if any(p.glob("shard-*.h5")) or (p / "manifest.json").exists() and not (p / (split or "")).is_dir():
        return str(p), None
    return str(p), split or None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="ti2v")
def main() -> None:
    """Train the reference MAGE, the Motion-I2V-style or the MMVID-style baseline on ti2v shards."""


@main.command(short_help="Stage 1: the VQ-VAE (frames -> 16x16 tokens).")
@_common
def vqvae(preset, data, out, split, eval_split, device, steps, batch_size, lr, workers, max_minutes, resume,
          overrides):
    """Stage 1: the VQ-VAE (Eq. 1), frames -> 16x16 tokens."""
    from .train import train_vqvae

    cfg = _preset(preset, overrides, "vqvae", steps, batch_size, lr, workers)
    check_out_dir(out)
    root, sp = _split_arg(data, split)
    row = train_vqvae(cfg, root, out, split=sp, eval_split=eval_split or None, device=device, resume=resume,
                      max_minutes=max_minutes)
    _finish(row, out)


@main.command(short_help="Stage 2: the MAGE generator on the VQ-VAE's tokens.")
@_common
@click.option("--vqvae", "vqvae_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="vqvae.ckpt of stage 1")
def mage(preset, data, out, split, eval_split, device, steps, batch_size, lr, workers, max_minutes, resume,
         overrides, vqvae_path):
    """Stage 2: the generator (Eq. 7) on the frozen VQ-VAE's tokens."""
    from .train import train_mage

    cfg = _preset(preset, overrides, "mage", steps, batch_size, lr, workers)
    check_out_dir(out)
    root, sp = _split_arg(data, split)
    row = train_mage(cfg, root, out, vqvae_path, split=sp, eval_split=eval_split or None, device=device,
                     resume=resume, max_minutes=max_minutes)
    _finish(row, out)


@main.command(short_help="The MMVID-style baseline: bidirectional mask-predict on the VQ-VAE's tokens.")
@_common
@click.option("--vqvae", "vqvae_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="vqvae.ckpt of stage 1 (the tokenizer MAGE uses)")
def mmvid(preset, data, out, split, eval_split, device, steps, batch_size, lr, workers, max_minutes, resume,
          overrides, vqvae_path):
    """Train the MMVID-style transformer (masked-token prediction, relevance and consistency heads) on the frozen
    VQ-VAE's tokens (sections mmvid, mmvid_train)."""
    from .mmvid.train import train_mmvid

    cfg = _preset(preset, overrides, "mmvid", steps, batch_size, lr, workers)
    check_out_dir(out)
    root, sp = _split_arg(data, split)
    row = train_mmvid(cfg, root, out, vqvae_path, split=sp, eval_split=eval_split or None, device=device,
                      resume=resume, max_minutes=max_minutes)
    _finish(row, out)


@main.command("motion-i2v", short_help="The Motion-I2V-style baseline: motion field first, then warping.")
@_common
def motion_i2v(preset, data, out, split, eval_split, device, steps, batch_size, lr, workers, max_minutes, resume,
               overrides):
    """Train the Motion-I2V-style baseline (both stages in one run; sections motion_i2v, motion_i2v_train)."""
    from .motion_i2v.train import train_motion_i2v

    cfg = _preset(preset, overrides, "motion_i2v", steps, batch_size, lr, workers)
    check_out_dir(out)
    root, sp = _split_arg(data, split)
    row = train_motion_i2v(cfg, root, out, split=sp, eval_split=eval_split or None, device=device, resume=resume,
                           max_minutes=max_minutes)
    _finish(row, out)


def cli_main() -> None:
    """Console entry point: bad input (preset, overrides, data folder, checkpoint) is one line and exit 2."""
    from ti2v.datagen.errors import run_group

    from .checkpoint import CheckpointError

    run_group(main, extra_errors=(CheckpointError,))


if __name__ == "__main__":
    cli_main()
