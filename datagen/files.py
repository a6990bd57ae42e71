"""Publishing a finished file: a temporary file takes the permissions a newly created file would get under
the user's umask (safetensors and mkstemp create 0600 files, which other users of a shared cache could not
read), then is renamed onto its final name in one step, so a reader never sees a partial file."""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return Path(path)
