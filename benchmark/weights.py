"""Pretrained weight files: where they come from, where they are looked for, and how they are checked.

Resolution order for a file name: ``$TI2V_WEIGHTS/<file>``, then ``$TORCH_HOME/hub/checkpoints/<file>``
(``TORCH_HOME`` defaults to ``~/.cache/torch``, torchvision's own cache, so weights already fetched by torchvision
or pytorch-fid are found). ``fetch`` downloads into ``$TI2V_WEIGHTS`` when set, else the torch cache, under a
temporary name that is renamed only after the checksum matched.

Checksums: torchvision and pytorch-fid publish the first 8 hex digits of the file's SHA-256 in its name; that
prefix is what is verified for them. The StyleGAN-V I3D TorchScript has no published checksum; ``verify`` then
reports the SHA-256 it computed (recorded in every report) and says "unpinned"; so does the TATS / VideoGPT
``i3d_pretrained_400.pt`` (fetched from a commit-pinned Hugging Face URL).
Base URL override for mirrors and tests: ``TI2V_WEIGHTS_URL_BASE`` replaces everything up to the file name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ti2v.datagen.files import publish


@dataclass(frozen=True)
class WeightFile:
    name: str  # short name used on the command line
    filename: str
    url: str
    sha256_prefix: str | None  # published checksum (prefix); None = unpinned
    used_for: str


REGISTRY: dict[str, WeightFile] = {
    w.name: w
    for w in [
        WeightFile(
            "inception-fid",
            "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
            "6726825d",
            "FID (Inception-v3 pool3, pytorch-fid port of the TF 2015-12-05 graph)",
        ),
        WeightFile(
            "i3d",
            "i3d_torchscript.pt",
            "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",
            None,
            "FVD and I3D diversity (Kinetics-400 I3D, StyleGAN-V TorchScript)",
        ),
        WeightFile(
            "i3d-tats",
            "i3d_pretrained_400.pt",
            "https://huggingface.co/spaces/LanguageBind/Open-Sora-Plan-v1.0.0/resolve/"
            "810fa8c4bdb3a4c8eec9bd57375c29bde6fb46de/opensora/eval/fvd/videogpt/i3d_pretrained_400.pt",
            None,
            "FVD with the TATS / VideoGPT extractor (--fvd-extractor tats; PyTorch Kinetics-400 I3D state dict)",
        ),
        WeightFile(
            "vgg16",
            "vgg16-397923af.pth",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "397923af",
            "VGG-16 diversity (torchvision ImageNet weights)",
        ),
        WeightFile(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "7be5be79",
            "LPIPS backbone (torchvision AlexNet; the lpips package ships only the linear heads)",
        ),
    ]
}


class WeightsMissing(FileNotFoundError):
    def __init__(self, entry: WeightFile):
        self.entry = entry
        super().__init__(
            f"weights file {entry.filename} not found (looked in {', '.join(str(d) for d in search_dirs())}); "
            f"get it with: {fetch_command(entry.name)}"
        )


class ChecksumError(ValueError):
    pass


def fetch_command(name: str) -> str:
    return f"ti2v-bench weights fetch {name}"


def torch_cache_dir() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(home) / "hub" / "checkpoints"


def search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("TI2V_WEIGHTS"):
        dirs.append(Path(os.environ["TI2V_WEIGHTS"]))
    dirs.append(torch_cache_dir())
    return dirs


def download_dir() -> Path:
    return search_dirs()[0]


def get(name: str) -> WeightFile:
    if name not in REGISTRY:
        raise KeyError(f"unknown weights {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def find(name: str) -> Path | None:
    entry = get(name)
    for d in search_dirs():
        p = d / entry.filename
        if p.is_file():
            return p
    return None


def require(name: str) -> Path:
    p = find(name)
    if p is None:
        raise WeightsMissing(get(name))
    return p


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check(entry: WeightFile, digest: str) -> bool | None:
    """True / False against the published prefix; None when the file has no published checksum."""
    if entry.sha256_prefix is None:
        return None
    return digest.startswith(entry.sha256_prefix.lower())


def url_for(entry: WeightFile, base: str | None = None) -> str:
    base = base if base is not None else os.environ.get("TI2V_WEIGHTS_URL_BASE")
    if base:
        return base.rstrip("/") + "/" + entry.filename
    return entry.url


def fetch(name: str, base_url: str | None = None, dest_dir: Path | None = None, force: bool = False,
          timeout: float = 60.0, sha256_prefix: str | None = None) -> Path:
    """Download one file, verify it, and move it into place (temp file in the same folder, then rename)."""
    entry = get(name)
    dest_dir = Path(dest_dir) if dest_dir is not None else download_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / entry.filename
    if dest.is_file() and not force:
        if check(entry, sha256_file(dest)) is not False:
            return dest
    url = url_for(entry, base_url)
    fd, tmp = tempfile.mkstemp(prefix=entry.filename + ".", suffix=".part", dir=dest_dir)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        digest = h.hexdigest()
        want = (sha256_prefix or entry.sha256_prefix or "").lower()
        if want and not digest.startswith(want):
            raise ChecksumError(f"{entry.filename} from {url}: sha256 {digest[:16]}... does not start with {want}")
        publish(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def verify(name: str) -> dict:
    entry = get(name)
    p = find(name)
    if p is None:
        return {"name": name, "file": entry.filename, "status": "missing", "command": fetch_command(name)}
    digest = sha256_file(p)
    ok = check(entry, digest)
    status = "ok" if ok else ("unpinned" if ok is None else "checksum mismatch")
    return {"name": name, "file": entry.filename, "path": str(p), "sha256": digest, "status": status}


def describe_all() -> list[dict]:
    out = []
    for name, entry in REGISTRY.items():
        p = find(name)
        out.append({"name": name, "file": entry.filename, "found": str(p) if p else None, "used_for": entry.used_for})
    return out
