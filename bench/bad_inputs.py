"""Bad input across the three commands: each probe must give one line on stderr, exit 2, no traceback, and leave
nothing behind (issue 18).

    .venv/bin/python bench/bad_inputs.py                 # every probe, a Markdown table, exit 1 if any fails
    .venv/bin/python bench/bad_inputs.py --only seed     # the probes whose name contains "seed"

Each probe runs the console script's entry point (``cli_main``) in a fresh temporary folder, its working
directory, with TMPDIR inside it, so a folder, run.json or temporary file left anywhere there is seen. It is
given only the inputs it made itself (a preset file, a plain file where a folder belongs) and a tiny Moving
MNIST dataset shared by every probe (``{data}``), which must not change either.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MODULES = {"datagen": "ti2v.datagen.cli", "bench": "ti2v.benchmark.cli", "train": "ti2v.models.train_cli"}
BIG = str(2**70)  # 1180591620717411303424, beyond 64 bits
FULL_DISK = "import ti2v.datagen.limits as L; L.free_bytes = lambda path: 10_000"  # a disk with 10 kB free
# torch's per-user compile cache: importing torchvision (ti2v-bench's feature networks) creates it in TMPDIR, once
# for every later torch program; it is torch's, shared and reused, not something the bad command left
TORCH_CACHE = os.path.join(".tmp", "torchinductor_")
EVIL = 'dataset: x\ngenerator: !!python/object/apply:os.system ["echo pwned > pwned"]\n'


@dataclass
class Probe:
    name: str
    cli: str  # datagen, bench or train
    args: list[str]  # "{data}" is the shared dataset
    files: dict[str, str] = field(default_factory=dict)  # inputs the probe writes first (path -> text)
    patch: str = ""  # Python run before the entry point (e.g. a full disk)
    named: str = ""  # what the error line must contain (default: nothing more than one line)


MNIST = ["mnist", "--variant", "single", "--split", "test", "--num-videos", "2", "--digits", "sklearn", "--out", "out"]
CATER = ["cater", "--version", "v1", "--split", "test", "--num-videos", "2", "--out", "out", "--resolution", "32",
         "--frames", "4", "--samples", "1", "--no-denoise", "--threads", "1"]
REGEN = ["regenerate", "mnist-single", "--out", "out", "--scale", "0.001", "--digits", "sklearn"]
REGEN_CATER = ["regenerate", "cater-gen-v1", "--out", "out", "--scale", "0.001"]
TRAIN = ["vqvae", "--data", "{data}", "--out", "out"]
EVAL = ["evaluate", "static", "--data", "{data}", "--metrics", "psnr"]


def _with(base: list[str], option: str, value: str) -> list[str]:
    """``base`` with ``option`` set to ``value`` (replaced where base has it)."""
    args = list(base)
    if option in args:
        args[args.index(option) + 1] = value
        return args
    return [*args, option, value]


PROBES = [
    # ti2v-datagen mnist
    Probe("mnist --seed 2**70", "datagen", _with(MNIST, "--seed", BIG), named="2**63-1"),
    Probe("mnist --seed -1", "datagen", _with(MNIST, "--seed", "-1"), named="2**63-1"),
    Probe("mnist --num-videos 10**12", "datagen", _with(MNIST, "--num-videos", "1000000000000"), named="10,000,000"),
    Probe("mnist --num-videos 0", "datagen", _with(MNIST, "--num-videos", "0"), named="--num-videos"),
    Probe("mnist --variant triple", "datagen", _with(MNIST, "--variant", "triple"), named="triple"),
    Probe("mnist modified --frames 5", "datagen", _with(_with(MNIST, "--variant", "modified"), "--frames", "5"),
          named="12"),
    Probe("mnist --frames 100000", "datagen", _with(MNIST, "--frames", "100000"), named="100000"),
    Probe("mnist --shard-size 0", "datagen", _with(MNIST, "--shard-size", "0"), named="--shard-size"),
    Probe("mnist 10M videos in 1-video shards", "datagen",
          _with(_with(MNIST, "--num-videos", "10000000"), "--shard-size", "1"), named="100,000 shards"),
    Probe("mnist --distractor-prob 5", "datagen", _with(MNIST, "--distractor-prob", "5"), named="5"),
    Probe("mnist without MNIST files", "datagen", _with(_with(MNIST, "--digits", "mnist"), "--mnist-dir", "nowhere"),
          named="fetch mnist"),
    Probe("mnist --out is a file", "datagen", _with(MNIST, "--out", "afile/sub"), files={"afile": "x"}, named="afile"),
    Probe("mnist full disk", "datagen", _with(MNIST, "--num-videos", "1000"), patch=FULL_DISK, named="10.0 kB free"),
    Probe("mnist --workers 0", "datagen", _with(MNIST, "--workers", "0"), named="--workers"),
    Probe("mnist --shard-index 3 --num-shards 2", "datagen", [*MNIST, "--shard-index", "3", "--num-shards", "2"],
          named="--shard-index"),
    # ti2v-datagen cater
    Probe("cater --seed 2**70", "datagen", _with(CATER, "--seed", BIG), named="2**63-1"),
    Probe("cater --seed -5", "datagen", _with(CATER, "--seed", "-5"), named="2**63-1"),
    Probe("cater --resolution 1", "datagen", _with(CATER, "--resolution", "1"), named="16..1,024"),
    Probe("cater --resolution 2", "datagen", _with(CATER, "--resolution", "2"), named="16..1,024"),
    Probe("cater --resolution 100000", "datagen", _with(CATER, "--resolution", "100000"), named="16..1,024"),
    Probe("cater --num-videos 10**12", "datagen", _with(CATER, "--num-videos", "1000000000000"), named="10,000,000"),
    Probe("cater --frames 1", "datagen", _with(CATER, "--frames", "1"), named="2..300"),
    Probe("cater --samples 0", "datagen", _with(CATER, "--samples", "0"), named="--samples"),
    Probe("cater --version v3", "datagen", _with(CATER, "--version", "v3"), named="v3"),
    Probe("cater --objects 9-3", "datagen", [*_with(CATER, "--version", "v2"), "--objects", "9-3"], named="9-3"),
    Probe("cater v1 --objects 3-8", "datagen", [*CATER, "--objects", "3-8"], named="v1"),
    Probe("cater --device tpu", "datagen", [*CATER, "--device", "tpu"], named="tpu"),
    Probe("cater --threads 0", "datagen", _with(CATER, "--threads", "0"), named="--threads"),
    Probe("cater --split val", "datagen", _with(CATER, "--split", "val"), named="val"),
    Probe("cater 10M videos at 1024 px do not fit", "datagen",
          [*_with(_with(_with(CATER, "--num-videos", "10000000"), "--resolution", "1024"), "--frames", "300"),
           "--shard-size", "1000"], named="free but this run needs about"),
    # ti2v-datagen regenerate
    *[Probe(f"regenerate --set {s}", "datagen", [*REGEN, "--set", s], named=f"--set {s.split('=')[0]}")
      for s in ("frames=abc", "frames=-3", "shard_size=0", "seed=[1,2]", "variant=triple", "distractor_prob=5",
                "seed=-1")],
    Probe("regenerate mnist --set resolution=0", "datagen", [*REGEN, "--set", "resolution=0"], named="resolution"),
    *[Probe(f"regenerate cater --set {s}", "datagen", [*REGEN_CATER, "--set", s], named=f"--set {s.split('=')[0]}")
      for s in ("resolution=0", "samples=many", "denoise=maybe", "objects=3-4")],
    Probe("regenerate --set colour=red", "datagen", [*REGEN, "--set", "colour=red"], named="colour"),
    Probe("regenerate --set frames=[1,", "datagen", [*REGEN, "--set", "frames=[1,"], named="not valid YAML"),
    Probe("regenerate --splits val", "datagen", _with(REGEN, "--splits", "val"), named="val"),
    Probe("regenerate no-such-preset", "datagen", ["regenerate", "no-such-preset", "--out", "out"],
          named="no-such-preset"),
    Probe("regenerate preset with !!python/object", "datagen", ["regenerate", "evil.yaml", "--out", "out"],
          files={"evil.yaml": EVIL}, named="!!python/object/apply:os.system"),
    Probe("regenerate preset not YAML", "datagen", ["regenerate", "bad.yaml", "--out", "out"],
          files={"bad.yaml": "dataset: [x,\n"}, named="not valid YAML"),
    Probe("regenerate preset is a list", "datagen", ["regenerate", "list.yaml", "--out", "out"],
          files={"list.yaml": "- a\n- b\n"}, named="mapping"),
    Probe("regenerate full disk", "datagen", REGEN, patch=FULL_DISK, named="10.0 kB free"),
    # ti2v-train
    Probe("train --preset nope", "train", [*TRAIN, "--preset", "nope"], named="nope"),
    Probe("train --set vqvae.code_dim=abc", "train", [*TRAIN, "--set", "vqvae.code_dim=abc"],
          named="vqvae.code_dim='abc'"),
    Probe("train --set mage.heads=0", "train", [*TRAIN, "--set", "mage.heads=0"], named="mage.heads=0"),
    Probe("train --set foo", "train", [*TRAIN, "--set", "foo"], named="foo"),
    Probe("train --device tpu", "train", [*TRAIN, "--device", "tpu"], named="'tpu'"),
    Probe("train --steps 0", "train", [*TRAIN, "--steps", "0"], named="--steps"),
    Probe("train preset with !!python/object", "train", [*TRAIN, "--preset", "evil.yaml"],
          files={"evil.yaml": 'vqvae: !!python/object/apply:os.system ["echo pwned > pwned"]\n'},
          named="!!python/object/apply:os.system"),
    Probe("train mage --vqvae is not a checkpoint", "train", ["mage", "--data", "{data}", "--out", "out", "--vqvae",
                                                              "notes.txt"], files={"notes.txt": "x"}, named="notes.txt"),
    Probe("train --data without splits", "train", ["vqvae", "--data", "empty", "--out", "out"],
          files={"empty/.keep": ""}, named="not a split folder"),
    Probe("train --out is a file", "train", _with(TRAIN, "--out", "afile"), files={"afile": "x"}, named="is a file"),
    # ti2v-bench
    Probe("bench evaluate os:system", "bench", ["evaluate", "os:system", "--data", "{data}", "--metrics", "psnr"],
          named="os:system"),
    Probe("bench evaluate nothing.here:gen", "bench", ["evaluate", "nothing.here:gen", "--data", "{data}"],
          named="nothing.here"),
    Probe("bench evaluate --speed 1.5", "bench", [*EVAL, "--speed", "1.5"], named="1.5"),
    Probe("bench evaluate --metrics psnr,bogus", "bench", _with(EVAL, "--metrics", "psnr,bogus"), named="bogus"),
    Probe("bench evaluate --data nowhere", "bench", _with(EVAL, "--data", "nowhere"), named="nowhere"),
    Probe("bench evaluate --seed 2**70", "bench", [*EVAL, "--seed", BIG], named="2**63-1"),
    Probe("bench evaluate --out is a file", "bench", [*EVAL, "--out", "afile"], files={"afile": "x"},
          named="is a file"),
    Probe("bench inputs --seed -1", "bench", ["inputs", "--data", "{data}", "--out", "out", "--seed", "-1"],
          named="2**63-1"),
]


def _tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its size (folders -1): what a probe must leave as it found it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = -1
        for name in filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = os.path.getsize(p)
    return out


def make_data(root: Path) -> Path:
    """The tiny Moving MNIST dataset (4 train, 4 test videos, scikit-learn digits) the train and bench probes read."""
    for split in ("train", "test"):
        subprocess.run([sys.executable, "-m", MODULES["datagen"], "mnist", "--variant", "single", "--split", split,
                        "--num-videos", "4", "--digits", "sklearn", "--out", str(root)], check=True, capture_output=True)
    return root


@dataclass
class Result:
    probe: Probe
    code: int
    line: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def run_probe(probe: Probe, data: Path, timeout: float = 120) -> Result:
    with tempfile.TemporaryDirectory(prefix="ti2v-bad-input-") as tmp:
        folder = Path(tmp)
        (folder / ".tmp").mkdir()
        for name, text in probe.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        before, data_before = _tree(folder), _tree(data)
        code = f"{probe.patch}\nfrom {MODULES[probe.cli]} import cli_main\ncli_main()"
        args = [a.replace("{data}", str(data)) for a in probe.args]
        env = dict(os.environ, TMPDIR=str(folder / ".tmp"), PYTHONUNBUFFERED="1")
        try:
            proc = subprocess.run([sys.executable, "-c", code, *args], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Result(probe, -1, "", [f"still running after {timeout:.0f} s"])
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        problems = []
        if proc.returncode != 2:
            problems.append(f"exit {proc.returncode}")
        if "Traceback" in proc.stderr:
            problems.append("traceback")
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr")
        elif not lines[0].startswith("Error: "):
            problems.append("not an 'Error: ' line")
        elif probe.named and probe.named not in lines[0]:
            problems.append(f"does not name {probe.named!r}")
        after = {k: v for k, v in _tree(folder).items() if not k.startswith(TORCH_CACHE)}
        left = sorted(set(after) - set(before)) + sorted(k for k in before if after.get(k) != before[k])
        if left:
            problems.append("left " + ", ".join(left[:3]) + (" ..." if len(left) > 3 else ""))
        if _tree(data) != data_before:
            problems.append("changed the shared dataset")
        return Result(probe, proc.returncode, lines[0] if len(lines) == 1 else (lines[-1] if lines else ""), problems)


def table(results: list[Result]) -> str:
    rows = ["| probe | exit | line (first 80 characters) | ok |", "|---|---|---|---|"]
    for r in results:
        line = r.line[:80].replace("|", "\\|")
        rows.append(f"| {r.probe.name} | {r.code} | {line} | {'ok' if r.ok else 'FAIL: ' + '; '.join(r.problems)} |")
    rows.append("")
    rows.append(f"{sum(r.ok for r in results)} of {len(results)} probes ok")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="run only probes whose name contains this text")
    ap.add_argument("--jobs", type=int, default=1, help="probes run at once")
    args = ap.parse_args(argv)
    probes = [p for p in PROBES if args.only in p.name]
    with tempfile.TemporaryDirectory(prefix="ti2v-bad-input-data-") as tmp:
        data = make_data(Path(tmp) / "mnist-single")
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(lambda p: run_probe(p, data), probes))
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
