"""Compare a container's build of a dataset with the host's, shard by shard, and say what matched (docker/test.sh).

    python docker/compare_builds.py HOST_DIR CONTAINER_DIR

MNIST shards must match byte for byte. CATER-GEN shards must match in their plans, captions and annotations byte
for byte, and in their pixels when the render settings (Blender version, device, threads, samples, resolution)
agree; the output says whether they did. Exit 1 on any mismatch that is not explained by differing settings.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import h5py
import numpy as np

RENDER = ("blender_version", "device", "threads", "samples", "resolution")


def _datasets(f: h5py.File) -> dict[str, bytes]:
    out: dict[str, bytes] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            if data.dtype == object:  # variable-length strings
                data = np.array([x if isinstance(x, bytes) else str(x).encode() for x in data.ravel()], dtype=object)
                out[name] = b"\0".join(data) + repr(obj.shape).encode()
            else:
                out[name] = data.tobytes() + repr((data.dtype.str, data.shape)).encode()

    f.visititems(visit)
    return out


def _attr(f: h5py.File, key: str):
    v = f.attrs.get(key)
    return v.tolist() if hasattr(v, "tolist") else v


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare_split(host: Path, cont: Path) -> tuple[list[str], list[str]]:
    lines, problems = [], []
    files = [e["file"] for e in json.loads((host / "manifest.json").read_text())["shards"]]
    theirs = [e["file"] for e in json.loads((cont / "manifest.json").read_text())["shards"]]
    if files != theirs:
        return lines, [f"{cont}: shards {theirs} vs {files} on the host"]
    name = f"{host.parent.name}/{host.name}"
    is_render = False
    for file in files:
        hp, cp = host / file, cont / file
        same_bytes = _sha(hp) == _sha(cp)
        with h5py.File(hp, "r") as hf, h5py.File(cp, "r") as cf:
            is_render = "blender_version" in hf.attrs
            if _attr(hf, "config") != _attr(cf, "config") or _attr(hf, "generator_version") != _attr(cf, "generator_version"):
                problems.append(f"{cp}: settings or generator version differ from the host's "
                                f"({_attr(cf, 'generator_version')} vs {_attr(hf, 'generator_version')}): not the same source")
                continue
            if not is_render:
                if not same_bytes:
                    problems.append(f"{cp}: not byte for byte equal to {hp}")
                continue
            hd, cd = _datasets(hf), _datasets(cf)
            scene = sorted(k for k in hd if k != "videos")
            bad = [k for k in sorted(set(hd) | set(cd)) if k != "videos" and hd.get(k) != cd.get(k)]
            if bad:
                problems.append(f"{cp}: {', '.join(bad)} differ from the host's (plans, captions and annotations must match)")
                continue
            hs, cs = ({k: _attr(f, k) for k in RENDER} for f in (hf, cf))
            pixels = hd["videos"] == cd["videos"]
            agree = hs == cs
            settings = ", ".join(f"{k}={hs[k]}" for k in RENDER) if agree else \
                ", ".join(f"{k}={hs[k]}/{cs[k]}" for k in RENDER if hs[k] != cs[k]) + " (host/container)"
            lines.append(f"{name}/{file}: plans, captions and annotations byte for byte equal ({len(scene)} datasets); "
                         f"render settings {'agree' if agree else 'DIFFER'} ({settings}); "
                         f"pixels {'equal' if pixels else 'differ'}; file {'byte for byte equal' if same_bytes else 'bytes differ'}")
            if agree and not pixels:
                problems.append(f"{cp}: pixels differ from the host's although the render settings agree")
    if not is_render and not problems:
        lines.append(f"{name}: {len(files)} shard{'s' if len(files) != 1 else ''} byte for byte equal")
    return lines, problems


def main(host: str, cont: str) -> int:
    problems = []
    for manifest in sorted(Path(host).rglob("manifest.json")):
        split = manifest.parent
        other = Path(cont) / split.relative_to(host)
        if not (other / "manifest.json").exists():
            problems.append(f"{other}: no manifest.json (the host has {manifest})")
            continue
        lines, bad = compare_split(split, other)
        for line in lines:
            print("  " + line)
        problems += bad
    for line in problems:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
