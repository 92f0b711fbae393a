"""Small generated artefacts of the series (cached results, trained checkpoints) and how they are written.

One folder per paper, ``data/<pkg>/`` of the repository (:func:`artifact_dir`), and one way to write a file
there: :func:`write_atomic` writes into a temporary file in the same folder, flushes it to disk and renames it
over the target, so a reader never sees a half-written file and an interrupted run leaves the old file intact.
:func:`write_json`, :func:`save_torch` and :func:`save_npz` are the common formats on top of it.
Datasets never go here (they come through :mod:`course_lib.data`).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: The repository's ``data/`` folder (next to ``course_lib/``).
DATA_ROOT = Path(__file__).resolve().parents[1] / "data"


def artifact_dir(pkg: str, *, create: bool = False) -> Path:
    """``data/<pkg>/`` of the repository, e.g. ``artifact_dir("lct")``; made when ``create``."""
    if not isinstance(pkg, str) or not pkg or "/" in pkg or "\\" in pkg or pkg.startswith("."):
        raise ValueError(f"artifact_dir: pkg must be a package name such as 'lct', got {pkg!r}")
    path = DATA_ROOT / pkg
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: str | Path, content: bytes | str | Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``content`` is bytes, text (UTF-8) or a function that writes to a binary file
    handle (e.g. ``lambda fh: torch.save(obj, fh)``). The parent folder is created. Returns ``path``."""
    path = Path(path)
    if not (isinstance(content, bytes | bytearray | str) or callable(content)):
        raise TypeError(f"write_atomic: content must be bytes, str or a callable(file), got {type(content).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> Path:
    """``obj`` as JSON (UTF-8, non-ASCII kept, trailing newline), written atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> Any:
    """The JSON object stored at ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` written atomically (load it back with ``torch.load(..., weights_only=True)``)."""
    import torch

    return write_atomic(path, lambda fh: torch.save(obj, fh))


def save_npz(path: str | Path, *, compressed: bool = True, **arrays) -> Path:
    """numpy arrays as an ``.npz`` archive (compressed by default), written atomically; the name is kept as given."""
    import numpy as np

    saver = np.savez_compressed if compressed else np.savez
    return write_atomic(path, lambda fh: saver(fh, **arrays))
