"""Writing an evaluation: report.json, report.md (tables laid out like the MAGE paper's Tables 1 and 2),
samples.png / samples.gif (first frame, caption, generated vs ground truth) and speed.png (Figure 6 style)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DATASET_NAMES = {
    "mnist-single": "Single Moving MNIST",
    "mnist-double": "Double Moving MNIST",
    "mnist-modified": "Modified Moving MNIST",
    "cater-gen-v1": "CATER-GEN-v1",
    "cater-gen-v2": "CATER-GEN-v2",
}


def reproducible_part(report: dict) -> dict:
    """Everything except wall-clock facts (what the same seed must reproduce exactly)."""
    return {k: v for k, v in report.items() if k != "run"}


def _fmt(v, digits=3):
    if isinstance(v, dict):
        if v.get("status") == "skipped":
            return "skipped"
        return "n/a"
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(title: str, header: list[str], row: list[str]) -> list[str]:
    """A titled one-row Markdown table, followed by a blank line."""
    return [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header), "| " + " | ".join(row) + " |", ""]


def _fvd_lines(fp: dict | None) -> list[str]:
    if not fp:
        return []
    line = (f"FVD protocol: {fp['clips_generated']} generated vs {fp['clips_reference']} reference clips of "
            f"{fp['clip_length']} frames (the given frame included), mean frame stride {fp['frame_stride_mean']}, "
            f"resized to {fp['resize']}, covariance {fp['covariance']}, extractor {fp['extractor']} "
            f"({fp['extractor_status']}" + (f", sha256 {fp['extractor_sha256']}" if fp.get("extractor_sha256") else "")
            + ").")
    out = [line, ""]
    if fp.get("warning"):
        out += [f"> **Warning**: {fp['warning']}.", ""]
    return out


def checksum_line(report: dict) -> str:
    """Whether (and how fast) ``evaluate`` verified the scored shards' sha256 against manifest.json."""
    c = report["data"].get("checksums")
    if not c:
        return "Data: checksums not recorded."
    if not c.get("verified"):
        return f"Data: the shards' sha256 were NOT verified against manifest.json ({c.get('reason', '-')})."
    seconds = report.get("run", {}).get("verify_s")
    took = f" in {seconds:.2f} s" if isinstance(seconds, (int, float)) else ""
    return (f"Data: sha256 of {c['shards']} of {c['of']} shard(s) ({c['bytes'] / 1e6:.1f} MB, those the scored "
            f"clips come from) verified against manifest.json{took}.")


def markdown(report: dict) -> str:
    d = report["data"]
    m = report["metrics"]
    name = DATASET_NAMES.get(d["dataset"], d["dataset"])
    mode = "Deterministic (explicit text)" if d["captions"] == "explicit" else "Stochastic (ambiguous text)"
    lines = [f"# ti2v-bench: {report['model_name']} on {name} ({d['split']})", ""]
    if report.get("random_init_networks"):
        lines += ["> **Random-init feature networks**: LPIPS / FID / FVD / diversity below come from randomly",
                  "> initialised networks (timing / pipeline check). They are NOT comparable with published numbers.", ""]
    lines += [
        f"{d['clips']} clips x {d['samples_per_clip']} sample(s), {d['frames_per_clip']} frames, "
        f"{d['resolution'][0]}x{d['resolution'][1]}x{d['channels']}, {d['captions']} captions, speed "
        f"{report['speed']['mode']}" + (f" eta={report['speed']['eta']}" if report['speed']['eta'] is not None else "")
        + f" (interval {d['speed_interval']}), seed {report['seed']}.",
        "",
        *([checksum_line(report), ""] if d.get("checksums") else []),
        "Table 1 layout (perceptual similarity and diversity):",
        "",
        "| Mode | Dataset | FID ↓ | LPIPS ↓ | FVD ↓ | DIV VGG ↑ | DIV I3D ↑ |",
        "|---|---|---|---|---|---|---|",
        f"| {mode} | {name} | {_fmt(m.get('fid'), 2)} | {_fmt(m.get('lpips'), 2)} | {_fmt(m.get('fvd'), 2)} | "
        f"{_fmt(m.get('div_vgg'), 2)} | {_fmt(m.get('div_i3d'), 2)} |",
        "",
        *_fvd_lines(report.get("fvd_protocol")),
        "Table 2 layout (deterministic similarity):",
        "",
        "| Dataset | SSIM ↑ | PSNR ↑ |",
        "|---|---|---|",
        f"| {name} | {_fmt(m.get('ssim'), 2)} | {_fmt(m.get('psnr'), 2)} |",
        "",
    ]
    c = report.get("control")
    if c and c.get("kind") == "mnist":
        lines += _table("Controllability (exact, from the shards' scene state):",
                        ["Dataset", "motion accuracy ↑", "track error (px) ↓", "distractor stillness ↑",
                         "motion-end frame error ↓"],
                        [name, _fmt(c.get("motion_accuracy")), _fmt(c.get("track_error_px"), 2),
                         _fmt(c.get("distractor_stillness")), _fmt(c.get("end_frame_error"), 2)])
        lines += [
            f"Phrase accuracy {_fmt(c.get('phrase_accuracy'))}, end position within {c['tolerances_px']['end']} px "
            f"{_fmt(c.get('end_position_accuracy'))}; {c['moving_digits']} moving digits, {c['distractors']} distractors.",
            "",
        ]
    elif c and c.get("kind") == "cater":
        j = c["judge"]
        lines += _table("Controllability (exact, from the shards' scene state; objects located by the judge named "
                        "below):",
                        ["Dataset", "action precision ↑", "referring-expression precision ↑", "unnamed objects still ↑",
                         "judge cell accuracy (GT frames)"],
                        [name, _fmt(c.get("action_precision")), _fmt(c.get("referring_precision")),
                         _fmt(c.get("unnamed_still")), _fmt(c.get("judge_cell_accuracy"))])
        reasons = ", ".join(f"{k} {v}" for k, v in c.get("not_judgeable_reasons", {}).items()) or "none"
        lines += [
            f"Judge: {j.get('file')}"
            + ("" if j.get("sha256") in (None, "-") else f" (sha256 {str(j.get('sha256'))[:16]}..., "
               f"{'pinned' if j.get('pinned') else 'not a pinned file'})")
            + f"; cell accuracy measured on "
            f"{j.get('measured_on')} ({j.get('objects_frames')} object-frames, mean 2D error "
            f"{_fmt(j.get('mean_2d_error_px'), 2)} px, in-sight accuracy {_fmt(j.get('in_sight_accuracy'))}). "
            f"Action precision by kind: {', '.join(f'{k} {v:.2f}' for k, v in c.get('action_precision_by_kind', {}).items())}"
            f" over {c.get('actions')} judged sentences; {c.get('actions_not_judgeable', 0)} not judgeable ({reasons}).",
            "",
        ]
        acc = c.get("judge_cell_accuracy")
        if acc is None or acc < 0.95:
            lines += [f"> **Warning**: the judge puts only {_fmt(acc)} of ground-truth objects in the right "
                      "cell (target >= 0.95); the controllability scores above are not reliable at this accuracy.", ""]
    tc = report.get("trajectory_control")
    if tc and tc.get("status") == "not applicable":
        lines += [f"Trajectory control: not applicable ({tc['reason']}).", ""]
    elif tc:
        lines += _table("Trajectory control (the object's true centre track given; located in frames 2..T, px of "
                        f"{d['resolution'][0]}x{d['resolution'][1]}):",
                        ["Dataset", "object", "trajectory error (px) ↓", "end-point error (px) ↓",
                         "end point within 3 px ↑"],
                        [name, tc["object"], _fmt(tc.get("trajectory_error_px"), 2),
                         _fmt(tc.get("endpoint_error_px"), 2), _fmt(tc.get("endpoint_within_3px"))])
        lines += [f"{tc['clips']} clips, {tc['samples']} trajectory-conditioned sample each (same seed as the main "
                  f"generation, which the other metrics score); located by {tc['located_by']}; "
                  f"{tc['not_located']} not located.", ""]
    skipped = {k: v for k, v in m.items() if isinstance(v, dict)}
    if skipped:
        lines += ["Not computed:", ""]
        for k, v in skipped.items():
            if v.get("status") == "skipped" and v.get("reason") == "checksum mismatch":
                lines.append(f"- {k}: skipped, weights file `{v['file']}` does not match its checksum pin "
                             f"{v.get('pin')} (sha256 {v.get('sha256')}); get it again with `{v['command']}`")
            elif v.get("status") == "skipped":
                lines.append(f"- {k}: skipped, weights file `{v['file']}` missing; get it with `{v['command']}`")
            else:
                lines.append(f"- {k}: {v.get('reason', v.get('status'))}")
        lines.append("")
    if report.get("weights"):
        lines += ["Weights:", ""]
        for k, v in report["weights"].items():
            note = " (no published checksum: the sha256 below is what was used)" if v.get("status") == "unpinned" else ""
            lines.append(f"- {k}: `{v.get('file')}` {v.get('status')}{note} "
                         + (f"sha256 {v['sha256']}" if v.get("sha256") else ""))
        lines.append("")
    md = report.get("metric_details", {})
    if md:
        lines.append("Counts: " + ", ".join(f"{k} {v}" for k, v in md.items()) + ".")
        lines.append("")
    lines += ["Protocol: PSNR/SSIM/LPIPS/FID on generated frames 2..T, per frame then averaged; SSIM 11-tap Gaussian "
              "sigma 1.5, data range 255, PSNR capped at 100 dB; FID covariance over N-1 (as pytorch-fid); FVD on "
              "whole clips (I3D, covariance over N, as StyleGAN-V); diversity = mean MSE over ordered sample pairs "
              "(VGG on frames 2..T, I3D on whole clips).", "",
              f"Versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}."]
    return "\n".join(lines) + "\n"


def _rgb(v: np.ndarray) -> np.ndarray:
    return np.repeat(v, 3, -1) if v.shape[-1] == 1 else v


def sample_grid_png(grid: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not grid:
        return
    t = grid[0]["truth"].shape[0]
    rows = 2 * len(grid)
    fig, axes = plt.subplots(rows, t, figsize=(1.1 * t, 1.25 * rows), dpi=100, squeeze=False)
    for i, g in enumerate(grid):
        for j in range(t):
            for r, (key, label) in enumerate((("generated", "gen"), ("truth", "GT"))):
                ax = axes[2 * i + r, j]
                img = _rgb(g[key][j])
                ax.imshow(img, cmap=None, vmin=0, vmax=255)
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(label, fontsize=7)
        cap = g["caption"] if len(g["caption"]) < 110 else g["caption"][:107] + "..."
        axes[2 * i, 0].set_title(f"#{g['index']}  eta={g['eta']:.2f}  {cap}", fontsize=7, loc="left", x=0.0,
                                 ha="left")
    fig.subplots_adjust(left=0.06, right=0.99, top=0.95, bottom=0.01, wspace=0.05, hspace=0.35)
    fig.savefig(path)
    plt.close(fig)


def sample_grid_gif(grid: list[dict], path: Path, scale: int = 2) -> None:
    import imageio.v3 as iio

    if not grid:
        return
    frames = []
    for j in range(grid[0]["truth"].shape[0]):
        rows = []
        for g in grid:
            gen, gt = _rgb(g["generated"][j]), _rgb(g["truth"][j])
            sep = np.full((gen.shape[0], 2, 3), 128, np.uint8)
            rows.append(np.concatenate([gen, sep, gt], 1))
        f = np.concatenate(rows, 0)
        frames.append(np.kron(f, np.ones((scale, scale, 1), np.uint8)))
    iio.imwrite(path, np.stack(frames), duration=200, loop=0)


def write_report(report: dict, out: Path, grid, control_records, control_etas) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": "report.json", "markdown": "report.md", "grid_png": "samples.png", "grid_gif": "samples.gif"}
    c = report.get("control")
    if c and c.get("kind") == "mnist" and control_records:
        from .mnist_control import speed_plot

        speed_plot(control_records, control_etas, out / "speed.png",
                   title=f"{report['model_name']}: motion-end frame vs speed")
        files["speed_plot"] = "speed.png"
    elif c and c.get("kind") == "cater" and control_records:
        from .cater_control import speed_plot

        speed_plot(control_records, control_etas, out / "speed.png", title=f"{report['model_name']}")
        files["speed_plot"] = "speed.png"
    report["files"] = files
    sample_grid_png(grid, out / "samples.png")
    sample_grid_gif(grid, out / "samples.gif")
    (out / "report.md").write_text(markdown(report))
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.bool_,)):
        return bool(o)
    raise TypeError(type(o))
