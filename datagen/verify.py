"""Checking a built dataset: checksums, schema and counts, and equality with another build's manifest."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .manifest import MANIFEST, check_manifest, identity_problems, load_manifest, read_manifest
from .runner import RUN_FILE, sha256_file, shard_name
from .shard import ShardFormatError, content_digests, open_shard


def split_dirs(path: Path) -> list[Path]:
    """The split folders at ``path``: itself when it holds a manifest, else its children that do. A folder with a
    run record but no manifest is an unfinished run: the error says which shards are missing."""
    if (path / MANIFEST).exists():
        return [path]
    children = sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
    found = [p for p in children if (p / MANIFEST).exists()]
    unfinished = [p for p in [path, *children] if (p / RUN_FILE).exists() and not (p / MANIFEST).exists()]
    if unfinished:
        raise InputError(unfinished_run(unfinished[0]))
    if not found:
        raise InputError(f"{path} holds no {MANIFEST} (neither a split folder nor a dataset folder)")
    return found


def unfinished_run(split_dir: Path) -> str:
    """What an unfinished run (a killed one, or a job array whose other tasks have not finished) still lacks."""
    try:
        run = json.loads((split_dir / RUN_FILE).read_text())
        n = -(-int(run["num_videos"]) // int(run["shard_size"]))
    except (OSError, ValueError, KeyError):
        return f"{split_dir}: an unfinished run (no {MANIFEST}, unreadable {RUN_FILE})"
    missing = [shard_name(i) for i in range(n) if not (split_dir / shard_name(i)).exists()]
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (f"{split_dir}: an unfinished run, no {MANIFEST} yet: {n - len(missing)} of {n} shards present"
            + (f", missing {shown}" if missing else ", the last shard is being written")
            + "; rerun the same command (every array task) to finish it")


def check_shard_schema(path: Path, expected: dict, manifest: dict | None = None, position: int | None = None
                       ) -> list[str]:
    """Problems with one shard's structure, each naming the shard; with ``manifest`` and ``position`` also its
    identity against the manifest (``manifest.identity_problems``)."""
    problems: list[str] = []
    try:
        with open_shard(path) as f:
            n = int(f.attrs["num_videos"])
            if manifest is not None and position is not None:  # the count too, among the rest
                problems.extend(identity_problems(path, f, manifest, position, expected, shapes=False))
            elif n != expected["num_videos"]:
                problems.append(f"{path}: holds {n} videos, manifest says {expected['num_videos']}")
            videos = f["videos"]
            readable = True
            if videos.dtype != "uint8" or videos.ndim != 5 or videos.shape[0] != n:
                problems.append(f"{path}: /videos is {videos.dtype} {videos.shape}, expected uint8 [{n}, F, H, W, C]")
                readable = videos.ndim == 5
            elif videos.shape[1] != int(f.attrs["frames"]):
                problems.append(f"{path}: /videos has {videos.shape[1]} frames, attribute says {f.attrs['frames']}")
            for name in ("captions/explicit", "captions/ambiguous"):
                if f[name].shape != (n,):
                    problems.append(f"{path}: /{name} has shape {f[name].shape}, expected ({n},)")
            for key, ds in f.get("annotations", {}).items():
                if not ds.shape or ds.shape[0] != n:
                    problems.append(f"{path}: /annotations/{key} has {ds.shape[0] if ds.shape else 0} rows, "
                                    f"expected {n}")
            # Touch every chunk (of the rows there are) so a truncated or corrupted file fails here, not in a
            # training run.
            if readable:
                for i in range(min(n, videos.shape[0])):
                    try:
                        videos[i]
                    except OSError as e:
                        problems.append(f"{path}: video {i} cannot be read ({' '.join(str(e).split())})")
                        break
    except (ShardFormatError, OSError, KeyError, ValueError, TypeError) as e:
        problems.append(f"{path}: unreadable ({' '.join(str(e).split())})")
    return problems


def verify_split(split_dir: Path) -> list[str]:
    """Every problem of one split folder, one line each: the manifest's own, then per shard its sha256 (a shard
    whose bytes differ is not looked into further), schema, identity and every chunk, then unlisted shards."""
    try:
        manifest = read_manifest(split_dir)
    except InputError as e:
        return [str(e)]
    problems, entries = check_manifest(split_dir, manifest)
    shards = manifest.get("shards") if isinstance(manifest, dict) else None
    listed = {e.get("file") for e in shards if isinstance(e, dict)} if isinstance(shards, list) else set()
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), t) for k, t in
                                                 (("dataset", str), ("split", str), ("config", dict))):
        manifest = None  # identity needs these (their problems are listed): check files and schema only
    for position, entry in entries:
        path = split_dir / entry["file"]
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            problems.append(f"{path}: sha256 {digest[:12]}... differs from the manifest's {entry['sha256'][:12]}...")
            continue
        problems.extend(check_shard_schema(path, entry, manifest, position))
    for extra in sorted(split_dir.glob("*.h5")):
        if extra.name not in listed:
            problems.append(f"{extra}: not listed in {MANIFEST}")
    return problems


def compare_to(split_dir: Path, other_manifest: Path) -> list[str]:
    """Prove this split equal to another build: every byte, or for renders whose settings differ, every byte of
    plans, captions and annotations (then naming the settings that explain the pixel difference)."""
    mine = load_manifest(split_dir)
    other_manifest = Path(other_manifest)
    theirs = read_manifest(other_manifest.parent, other_manifest)
    bad, _ = check_manifest(other_manifest.parent, theirs, other_manifest)
    if bad:
        return [f"--against {bad[0]}"]
    problems: list[str] = []
    if (mine["dataset"], mine["split"], mine["num_videos"]) != (theirs["dataset"], theirs["split"], theirs["num_videos"]):
        return [f"{split_dir}: {mine['dataset']}/{mine['split']}/{mine['num_videos']} videos vs "
                f"{theirs['dataset']}/{theirs['split']}/{theirs['num_videos']} in {other_manifest}"]
    other = {e["file"]: e for e in theirs["shards"]}
    for entry in mine["shards"]:
        path = split_dir / entry["file"]
        ref = other.get(entry["file"])
        if ref is None:
            problems.append(f"{path}: not in {other_manifest}")
            continue
        if entry["sha256"] == ref["sha256"]:
            continue
        with open_shard(path) as f:
            content = content_digests(f)
        if content["scene"] != ref["content"]["scene"]:
            problems.append(f"{path}: captions or annotations differ from {other_manifest}")
            continue
        if content["videos"] == ref["content"]["videos"]:
            continue  # same data, different HDF5 layout bytes
        settings = entry.get("render_settings")
        ref_settings = ref.get("render_settings")
        if settings and ref_settings and settings != ref_settings:
            changed = ", ".join(k for k in settings if settings.get(k) != ref_settings.get(k))
            problems.append(f"{path}: pixels differ; explained by render settings ({changed}) — scene state is equal")
        else:
            problems.append(f"{path}: pixels differ from {other_manifest}")
    return problems


def checked_summary(path: Path) -> str:
    """What verify read: splits, shards, videos and bytes (sha256, schema and every chunk of each shard)."""
    dirs = split_dirs(path)
    manifests = [load_manifest(d) for d in dirs]
    shards = sum(len(m["shards"]) for m in manifests)
    videos = sum(m["num_videos"] for m in manifests)
    size = sum((d / e["file"]).stat().st_size for d, m in zip(dirs, manifests) for e in m["shards"])
    names = ", ".join(f"{m['dataset']}/{m['split']}" for m in manifests)
    return (f"{len(dirs)} split{'s' if len(dirs) != 1 else ''} ({names}), {shards} shard{'s' if shards != 1 else ''}, "
            f"{videos} videos, {size / 1e6:.1f} MB checked (sha256, schema, counts, every chunk read)")


def verify_tree(path: Path, against: Path | None = None) -> list[str]:
    problems: list[str] = []
    for split_dir in split_dirs(path):
        own = verify_split(split_dir)
        problems.extend(own)
        if against is not None:
            try:
                problems.extend(compare_to(split_dir, _manifest_for(against, split_dir.name)))
            except InputError as e:
                if not own:  # else this split's manifest problems are listed already
                    problems.append(str(e))
    return problems


def _manifest_for(against: Path, split: str) -> Path:
    """``--against`` names a manifest, a split folder or a dataset folder; pick the manifest of ``split``."""
    if against.is_dir():
        for candidate in (against / split / MANIFEST, against / MANIFEST):
            if candidate.exists():
                return candidate
        raise InputError(f"{against} holds no {MANIFEST} for split {split!r}")
    sibling = against.parent.parent / split / MANIFEST
    if against.name == MANIFEST and against.parent.name != split and sibling.exists():
        return sibling
    return against


def describe(path: Path) -> dict:
    splits = []
    for split_dir in split_dirs(path):
        manifest = load_manifest(split_dir)
        first = split_dir / manifest["shards"][0]["file"]
        with open_shard(first) as f:
            _, frames, h, w, c = f["videos"].shape
            splits.append(
                {
                    "path": str(split_dir),
                    "dataset": manifest["dataset"],
                    "split": manifest["split"],
                    "num_videos": manifest["num_videos"],
                    "num_shards": len(manifest["shards"]),
                    "frames": frames,
                    "height": h,
                    "width": w,
                    "channels": c,
                    "speed_interval": [float(x) for x in f.attrs["speed_interval"]],
                    "seed": int(f.attrs["seed"]),
                    "source": str(f.attrs.get("digit_source", f.attrs.get("renderer", "-"))),
                    "bytes": sum((split_dir / e["file"]).stat().st_size for e in manifest["shards"]),
                    "example_caption": f["captions/explicit"][0].decode(),
                    "config": manifest["config"],
                    **published_status(manifest),
                }
            )
    return {"splits": splits}


# settings that change how a split is made, not what it holds (recorded, but a build may differ in them)
_NOT_DEFINING = {"device", "threads", "generator_version", "num_videos", "seed", "shard_size", "split"}


def published_status(manifest: dict) -> dict:
    """Whether a split is the published one: its preset's size, seed and settings; otherwise what differs (a
    smoke build at a fraction of the size, an override, the offline digits)."""
    from .regenerate import data_preset_names, load_preset

    dataset, cfg = manifest["dataset"], manifest["config"]
    if dataset not in data_preset_names():
        return {"published": False, "differs": ["no preset for this dataset"]}
    preset = load_preset(dataset)
    differs = []
    size = preset["splits"].get(manifest["split"])
    if manifest["num_videos"] != size:
        differs.append(f"num_videos {manifest['num_videos']} (published {size})")
    if cfg.get("seed") != preset["seed"]:
        differs.append(f"seed {cfg.get('seed')} (published {preset['seed']})")
    for key, value in preset["options"].items():
        if key not in _NOT_DEFINING and key in cfg and cfg[key] != value:
            differs.append(f"{key} {cfg[key]} (published {value})")
    return {"published": not differs, "differs": differs}
