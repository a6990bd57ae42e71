"""``manifest.json``: read with one-line errors, checked for its own consistency, and each shard's identity checked
against it.

Every reader (``ShardDataset``, ``ti2v-bench evaluate``, ``ti2v-datagen verify``/``info``/``preview``) reads a
split's manifest through :func:`load_manifest` (or :func:`check_manifest`, which says what is wrong instead of
refusing), so a broken one gives one line naming the file and the problem, never a traceback. The shard
identity (:func:`identity_problems`) costs attribute reads only, no hashing: it catches shards swapped, copied in
from another split, seed or configuration, and counts that no longer match (docs/FORMAT.md, Identity).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import InputError
from .shard import FORMAT_VERSION, config_digest

MANIFEST = "manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# entry keys that must be non-negative integers
_ENTRY_INTS = ("index", "start", "num_videos", "seed")


def read_manifest(split_dir: str | Path, path: str | Path | None = None) -> Any:
    """The parsed manifest.json of ``split_dir`` (or the manifest file ``path``), not yet checked; InputError if
    it is missing or not JSON."""
    path = Path(path) if path is not None else Path(split_dir) / MANIFEST
    if not path.exists():
        raise InputError(f"{split_dir} has no {MANIFEST}; is it a split folder written by ti2v-datagen?")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); ti2v-datagen "
                         "writes it when a split is complete") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def plain_file_name(name: Any) -> bool:
    """A shard file name inside its split folder: no folder part, not absolute, not '.' or '..'."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and not Path(name).is_absolute())


def _entry_problem(path: Path, i: int, entry: Any) -> str | None:
    where = f"{path}: shards[{i}]"
    if not isinstance(entry, dict):
        return f"{where} is {type(entry).__name__}, not an object"
    missing = [k for k in ("file", *_ENTRY_INTS, "sha256") if k not in entry]
    if missing:
        return f"{where} lacks {', '.join(missing)}"
    if not plain_file_name(entry["file"]):
        return (f"{where}: file {entry['file']!r} is not a plain file name inside the split folder (no '/', '..' "
                "or absolute path); not opened")
    for key in _ENTRY_INTS:
        if not _is_int(entry[key]) or entry[key] < 0:
            return f"{where} ({entry['file']}): {key} {entry[key]!r} is not a non-negative integer"
    if entry["index"] != i:
        return f"{where} ({entry['file']}): index {entry['index']}, expected {i} (entries are in shard order)"
    if not isinstance(entry["sha256"], str) or not _SHA256.match(entry["sha256"]):
        return f"{where} ({entry['file']}): sha256 {entry['sha256']!r} is not 64 lowercase hex digits"
    return None


def check_manifest(split_dir: str | Path, manifest: Any, path: str | Path | None = None
                   ) -> tuple[list[str], list[tuple[int, dict]]]:
    """Problems of the manifest itself (one line each, naming it), and the entries that are safe to open:
    ``(position, entry)`` for every well-formed entry whose file is a plain name inside the split."""
    path = Path(path) if path is not None else Path(split_dir) / MANIFEST
    if not isinstance(manifest, dict):
        return [f"{path}: holds {type(manifest).__name__}, not a JSON object"], []
    problems: list[str] = []
    for key, kind, ok in (("dataset", "a string", lambda v: isinstance(v, str)),
                          ("split", "a string", lambda v: isinstance(v, str)),
                          ("num_videos", "a non-negative integer", lambda v: _is_int(v) and v >= 0),
                          ("config", "an object", lambda v: isinstance(v, dict)),
                          ("shards", "a list", lambda v: isinstance(v, list))):
        if key not in manifest:
            problems.append(f"{path}: no {key!r}")
        elif not ok(manifest[key]):
            problems.append(f"{path}: {key!r} is {manifest[key]!r:.60}, not {kind}")
    if "format_version" in manifest and manifest["format_version"] != FORMAT_VERSION:
        problems.append(f"{path}: format version {manifest['format_version']!r}, this ti2v reads {FORMAT_VERSION}")
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        return problems, []
    if not shards:
        problems.append(f"{path}: lists no shards")
    good: list[tuple[int, dict]] = []
    offset, counts_ok = 0, True
    for i, entry in enumerate(shards):
        problem = _entry_problem(path, i, entry)
        if problem is not None:
            problems.append(problem)
            counts_ok = False
            continue
        if entry["start"] != offset:
            problems.append(f"{path}: shards[{i}] ({entry['file']}): start {entry['start']}, but the shards before "
                            f"it hold {offset} videos")
        offset += entry["num_videos"]
        good.append((i, entry))
    if counts_ok and _is_int(manifest.get("num_videos")) and offset != manifest["num_videos"]:
        problems.append(f"{path}: num_videos {manifest['num_videos']}, but its shards' counts add up to {offset}")
    return problems, good


def load_manifest(split_dir: str | Path) -> dict:
    """The manifest of ``split_dir``, checked; InputError (one line) naming the first problem otherwise."""
    manifest = read_manifest(split_dir)
    problems, _ = check_manifest(split_dir, manifest)
    if problems:
        raise InputError(_first(problems, split_dir))
    return manifest


def _first(problems: list[str], split_dir) -> str:
    more = f" ({len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return f"{problems[0]}{more}; `ti2v-datagen verify {split_dir}` checks the split"


def _value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v.tolist() if hasattr(v, "tolist") else v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def identity_problems(path: Path, f, manifest: dict, position: int, entry: dict, shapes: bool = True) -> list[str]:
    """What an open shard ``f`` says about itself that disagrees with its manifest entry: dataset, split, shard
    index (its position in the manifest), seeds, count, first video index and the split's configuration (its
    digest when the shard carries ``config_sha256``; older shards: every key of the shard's ``config`` attribute).
    Attribute and (``shapes``: that /videos and the captions hold num_videos rows) shape reads only."""
    attrs = f.attrs
    problems: list[str] = []

    def differ(name: str, theirs: Any, ours: Any, where: str) -> None:
        problems.append(f"{path}: {name} is {_short(theirs)} in the shard, {_short(ours)} in {where}")

    def check(name: str, expected: Any, where: str) -> None:
        if name in attrs:
            got = _value(attrs[name])
            if got != expected:
                differ(name, got, expected, where)

    entry_where = f"{MANIFEST} (shards[{position}])"
    check("dataset", manifest["dataset"], MANIFEST)
    check("split", manifest["split"], MANIFEST)
    check("shard_index", position, f"{MANIFEST} (its position, shards[{position}])")
    check("num_videos", entry["num_videos"], entry_where)
    for name in ("first_index", "start"):  # MNIST names it first_index, CATER-GEN start
        check(name, entry["start"], entry_where)
    check("shard_seed", entry["seed"], entry_where)
    if "seed" in manifest["config"]:
        check("seed", manifest["config"]["seed"], f"{MANIFEST} (config.seed)")
    if "config_sha256" in attrs:
        check("config_sha256", config_digest(manifest["config"]), f"{MANIFEST} (sha256 of its config)")
    elif "config" in attrs:
        try:
            own = json.loads(_value(attrs["config"]))
        except (TypeError, ValueError):
            own = None
        if not isinstance(own, dict):
            problems.append(f"{path}: its config attribute is not a JSON object")
        else:
            for key in sorted(own):
                if key not in manifest["config"] or manifest["config"][key] != own[key]:
                    differ(f"config.{key}", own[key], manifest["config"].get(key, "(absent)"), MANIFEST)
                    break
    n = _value(attrs["num_videos"]) if "num_videos" in attrs and shapes else None
    for name in ("videos", "captions/explicit", "captions/ambiguous"):
        if name in f and n is not None and f[name].shape[:1] != (n,):
            rows = f[name].shape[0] if f[name].shape else 0
            problems.append(f"{path}: /{name} has {rows} rows, its num_videos attribute says {n}")
    return problems


def identity_error(path: Path, f, manifest: dict, position: int, entry: dict, split_dir) -> None:
    """Raise InputError (one line) naming the first identity problem of a shard, if it has any."""
    problems = identity_problems(path, f, manifest, position, entry)
    if problems:
        raise InputError(_first(problems, split_dir))
