"""Build docs/LEADERBOARD.md from the report.json files that ``ti2v-bench evaluate --out DIR`` writes.

    .venv/bin/python bench/leaderboard.py REPORT.json|DIR ... [--out docs/LEADERBOARD.md] [--budget FILE.json]
        [--check]

DIR arguments are searched recursively for report.json. The page has one table per dataset and caption mode
(explicit / ambiguous), one row per report.

A row's training budget and reproducing command come from ``leaderboard.json`` next to its report.json, then
from ``--budget FILE.json`` (which wins), a JSON object mapping a report.json path, or its folder (relative to the
current folder), to an entry::

    {"budget": {"device": "cpu (2 cores)", "minutes": 30, "steps": 3000}, "command": "ti2v-bench evaluate ..."}

(the sidecar may also hold that entry under a ``leaderboard`` key). Without an entry the budget is '–' ('none (no
training)' for the static and oracle baselines) and the command is rebuilt from the report.

The output depends only on the inputs (no timestamps), so ``--check`` can tell CI that the page is stale: it
writes nothing and exits 1 when the --out file differs from what would be generated.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ti2v.benchmark.report import DATASET_NAMES

CAPTION_MODES = ("explicit", "ambiguous")
BASELINES = ("static", "oracle")
RANDOM_INIT_MARK = "†"
STATUS_TEXT = {"skipped": "skipped", "not applicable": "n/a"}
# (report key, column title, decimals); arrows say which direction is better
METRIC_COLUMNS = (("psnr", "PSNR ↑", 2), ("ssim", "SSIM ↑", 3), ("lpips", "LPIPS ↓", 3), ("fid", "FID ↓", 2),
                  ("fvd", "FVD ↓", 2), ("div_vgg", "DIV-VGG ↑", 3), ("div_i3d", "DIV-I3D ↑", 3))
CONTROL_COLUMNS = {
    "mnist": (("motion_accuracy", "motion accuracy ↑", 3), ("track_error_px", "track error px ↓", 2),
              ("distractor_stillness", "distractor stillness ↑", 3), ("end_frame_error", "end-frame error ↓", 2)),
    "cater": (("action_precision", "action precision ↑", 3), ("referring_precision", "referring precision ↑", 3),
              ("not_judgeable_share", "not judgeable", None)),
}
DEFAULT_SAMPLES = {"explicit": 1, "ambiguous": 5}  # evaluate's --samples default per caption mode


def fmt(value, digits: int | None = 3) -> str:
    """One cell: a number rounded (``digits`` None: a share, as a percentage), a metric's status, or '–'."""
    if isinstance(value, dict):
        status = value.get("status")
        return STATUS_TEXT.get(status, status or "–")
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:.1%}" if digits is None else f"{value:.{digits}f}"
    return str(value)


def find_reports(paths) -> list[Path]:
    """report.json files named or found under the given folders, each once, in a stable order."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(p.rglob("report.json"))
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such report.json or folder")
    unique = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def budget_entries(budget_file) -> dict[Path, dict]:
    """--budget's entries keyed by the resolved path they name (a report.json or its folder)."""
    if budget_file is None:
        return {}
    return {Path(k).resolve(): v for k, v in read_json(Path(budget_file)).items()}


def entry_for(report_path: Path, budgets: dict[Path, dict]) -> dict:
    """The sidecar's entry, overridden by --budget's entry for this report, if any."""
    entry = {}
    sidecar = report_path.parent / "leaderboard.json"
    if sidecar.is_file():
        data = read_json(sidecar)
        entry.update(data.get("leaderboard", data))
    resolved = report_path.resolve()
    entry.update(budgets.get(resolved) or budgets.get(resolved.parent) or {})
    return entry


def budget_text(budget, model: str) -> str:
    if isinstance(budget, str):
        return budget
    if not budget:
        return "none (no training)" if model in BASELINES else "–"
    parts = [str(budget["device"])] if budget.get("device") else []
    if budget.get("minutes") is not None:
        parts.append(f"{budget['minutes']:g} min")
    if budget.get("steps") is not None:
        parts.append(f"{budget['steps']:,} steps")
    if budget.get("note"):
        parts.append(f"({budget['note']})")
    return ", ".join(parts) or "–"


def evaluate_command(report: dict) -> str:
    """The ``ti2v-bench evaluate`` call that wrote the report, from what the report records of its arguments."""
    data, speed = report.get("data") or {}, report.get("speed") or {}
    args = ["ti2v-bench", "evaluate", str(report.get("model", "MODEL")), "--data", str(data.get("dir", "DATA"))]
    if data.get("split") is not None:
        args += ["--split", str(data["split"])]
    captions = data.get("captions", "explicit")
    args += ["--captions", str(captions)]
    samples = data.get("samples_per_clip")
    if samples is not None and samples != DEFAULT_SAMPLES.get(captions):
        args += ["--samples", str(samples)]
    args += ["--speed", "random" if speed.get("eta") is None else f"{speed['eta']:g}",
             "--seed", str(report.get("seed", 0))]
    if report.get("random_init_networks"):
        args.append("--random-weights")  # without it the rerun scores with pretrained networks: other numbers
    if "trajectory_control" in report:  # evaluate writes the key only when asked to
        args.append("--trajectory-control")
    return shlex.join(args)


def collect(paths, budget_file=None) -> list[dict]:
    """One row per report.json under ``paths``: the report, its budget cell and its command."""
    budgets = budget_entries(budget_file)
    rows = []
    for path in find_reports(paths):
        report = read_json(path)
        entry = entry_for(path, budgets)
        rows.append({"source": str(path), "report": report,
                     "budget": budget_text(entry.get("budget"), report.get("model")),
                     "command": entry.get("command") or evaluate_command(report)})
    return rows


def control_kind(dataset: str) -> str | None:
    return next((kind for kind in CONTROL_COLUMNS if dataset.startswith(kind)), None)


def trajectory_text(value) -> str:
    if not isinstance(value, dict):
        return fmt(value, 2)
    errors = [f"{label} {fmt(value[key], 2)} px" for key, label in
              (("endpoint_error_px", "endpoint"), ("trajectory_error_px", "trajectory")) if value.get(key) is not None]
    return ", ".join(errors) or fmt(value)


def cell(text: str) -> str:
    """A pipe would end the cell early."""
    return text.replace("|", "\\|")


def model_name(report: dict) -> str:
    return str(report.get("model_name", report.get("model", "?")))


def row_cells(row: dict, kind: str | None) -> list[str]:
    report = row["report"]
    data, metrics, control = report.get("data") or {}, report.get("metrics") or {}, report.get("control") or {}
    name = model_name(report)
    if report.get("random_init_networks"):
        name += " " + RANDOM_INIT_MARK
    cells = [name, f"{data.get('clips', '?')} x {data.get('samples_per_clip', '?')}"]
    cells += [fmt(metrics.get(key), digits) for key, _, digits in METRIC_COLUMNS]
    cells += [fmt(control.get(key), digits) for key, _, digits in CONTROL_COLUMNS.get(kind, ())]
    cells += [trajectory_text(report.get("trajectory_control")), row["budget"], f"`{row['command']}`"]
    return [cell(c) for c in cells]


def row_order(row: dict) -> tuple:
    """Static first, oracle last, the rest by name (then command and file, so ties stay put between runs)."""
    model, name = row["report"].get("model"), model_name(row["report"])
    rank = 0 if model == "static" else 2 if model == "oracle" else 1
    return rank, name.lower(), name, row["command"], row["source"]


def section_order(key: tuple[str, str]) -> tuple:
    dataset, captions = key
    known = list(DATASET_NAMES)
    mode = CAPTION_MODES.index(captions) if captions in CAPTION_MODES else len(CAPTION_MODES)
    return (known.index(dataset) if dataset in known else len(known), dataset, mode, captions)


def render(rows: list[dict], command: str = "python bench/leaderboard.py REPORT.json|DIR ...") -> str:
    """The whole page; ``command`` is what regenerates it, quoted in the header."""
    lines = [
        "# ti2v-bench leaderboard",
        "",
        "Scores of TI2V models on the benchmark's datasets from `ti2v-bench evaluate` reports, one table per dataset "
        "and caption mode, one row per report: the model's training budget and the command that reproduces the row. "
        "Metrics that were not computed show '–', 'skipped' (weights missing) or 'n/a' (not applicable).",
        "",
        f"Generated by `{command}`; do not edit by hand, rerun it.",
        "",
        f"{RANDOM_INIT_MARK} marks rows scored with random-init feature networks (a timing or pipeline check): their "
        "LPIPS, FID, FVD and diversity are not comparable with other rows or with published numbers.",
        "",
    ]
    sections: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        data = row["report"].get("data") or {}
        sections.setdefault((str(data.get("dataset", "unknown")), str(data.get("captions", "explicit"))),
                            []).append(row)
    for dataset, captions in sorted(sections, key=section_order):
        kind = control_kind(dataset)
        header = (["Model", "Clips x samples"] + [title for _, title, _ in METRIC_COLUMNS]
                  + [title for _, title, _ in CONTROL_COLUMNS.get(kind, ())]
                  + ["Trajectory control", "Budget", "Command"])
        lines += [f"## {DATASET_NAMES.get(dataset, dataset)}, {captions} captions", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row_cells(row, kind)) + " |"
                  for row in sorted(sections[(dataset, captions)], key=row_order)]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", help="report.json files, or folders searched recursively for them")
    ap.add_argument("--out", type=Path, default=Path("docs/LEADERBOARD.md"))
    ap.add_argument("--budget", type=Path, default=None, help="JSON: report.json path -> budget and command")
    ap.add_argument("--check", action="store_true", help="exit 1 if --out differs from what would be generated")
    args = ap.parse_args(argv)
    try:
        rows = collect(args.reports, args.budget)
    except (OSError, ValueError) as e:
        print(f"leaderboard: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"leaderboard: no report.json under {', '.join(args.reports)}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "bench/leaderboard.py", *args.reports, "--out", str(args.out)]
                         + (["--budget", str(args.budget)] if args.budget else []))
    text = render(rows, command)
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            print(f"leaderboard: {args.out} is stale; regenerate it with: {command}", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"leaderboard: {len(rows)} rows written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
