"""The data registry: every dataset the workbook uses, with sha256-verified files and their public origin.

Resolution order for a dataset's files:

1. the local cache ``COURSE_DATA_DIR`` (default: the user cache dir, ``.../course_lib/datasets``);
2. a mirror folder ``COURSE_DATA_MIRROR`` laid out as ``<mirror>/<name>/<path>`` (the Makefile and CI point
   it at ``../shared/datasets`` when that folder exists);
3. a download from the file's origin URL into the cache, with a progress bar, unless ``COURSE_OFFLINE=1``
   (tests and CI never download).

Every file is sha256-verified after it is obtained; a mismatch is an error naming the file. Datasets are
never copied into the repository.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
REGISTRY_PATH = Path(__file__).with_name("registry.json")
_verified: dict[tuple[str, int, float], str] = {}


class DataUnavailable(RuntimeError):
    """Raised when a dataset is neither cached, mirrored nor downloadable right now."""


class ChecksumMismatch(RuntimeError):
    """Raised when a file's sha256 differs from the registry's."""


@cache
def registry() -> dict:
    """The parsed registry: ``{name: {title, licence, origin, files: [{path, sha256, bytes, url, member}]}}``."""
    return json.loads(REGISTRY_PATH.read_text(encoding="utf-8"))


def entry(name: str) -> dict:
    """Registry entry of one dataset; unknown names raise a ``KeyError`` listing the known ones."""
    reg = registry()
    if name not in reg:
        raise KeyError(f"unknown dataset {name!r}; registered datasets: {', '.join(sorted(reg))}")
    return reg[name]


def cache_dir() -> Path:
    """``COURSE_DATA_DIR`` or the user cache dir."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("course_lib")) / "datasets"


def mirror_dir() -> Path | None:
    """``COURSE_DATA_MIRROR`` if set and existing, else ``None``."""
    env = os.environ.get("COURSE_DATA_MIRROR")
    return Path(env).expanduser() if env and Path(env).expanduser().is_dir() else None


def offline() -> bool:
    return os.environ.get("COURSE_OFFLINE", "0").strip().lower() in ("1", "true", "yes")


def sha256_of(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) within the process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def _verify(path: Path, spec: dict, name: str) -> Path:
    got = sha256_of(path)
    if got != spec["sha256"]:
        raise ChecksumMismatch(f"{name}/{spec['path']}: sha256 of {path} is {got}, registry expects "
                               f"{spec['sha256']}. Delete the file and fetch it again.")
    return path


def _download(spec: dict, dest: Path) -> None:
    """Download one file (or one member of an archive) from its origin, with a progress bar, atomically."""
    from tqdm.auto import tqdm

    url = spec.get("url")
    if not url:
        raise DataUnavailable(f"{spec['path']} has no public origin URL; it must come from the mirror")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        buf = io.BytesIO()
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, leave=False) as bar:
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                buf.write(chunk)
                bar.update(len(chunk))
    data = buf.getvalue()
    if spec.get("member"):
        data = _extract_member(data, url, spec["member"])
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, dest)


def _extract_member(data: bytes, url: str, member: str) -> bytes:
    if url.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(member)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        fh = tf.extractfile(member)
        if fh is None:
            raise DataUnavailable(f"archive {url} has no file member {member!r}")
        return fh.read()


def _how_to_get(name: str) -> str:
    e = entry(name)
    return (f"Dataset {name!r} ({e['title']}) is not available: not in the cache ({cache_dir() / name}), no mirror "
            f"(set COURSE_DATA_MIRROR to a folder holding {name}/), and downloads are "
            f"{'disabled (COURSE_OFFLINE=1)' if offline() else 'failing'}. Get it by running "
            f"`python -m course_lib.data fetch {name}` on a machine with internet, or copy the folder "
            f"from the course's shared data into a mirror folder. Origin: {e['origin']}.")


def fetch_file(name: str, path: str) -> Path:
    """Return a verified local path of one registered file (cache, then mirror, then download)."""
    specs = {f["path"]: f for f in entry(name)["files"]}
    if path not in specs:
        raise KeyError(f"dataset {name!r} has no file {path!r}; e.g. {', '.join(list(specs)[:5])}")
    spec = specs[path]
    cached = cache_dir() / name / path
    if cached.is_file():
        return _verify(cached, spec, name)
    mirror = mirror_dir()
    if mirror is not None and (mirror / name / path).is_file():
        return _verify(mirror / name / path, spec, name)
    if offline():
        raise DataUnavailable(_how_to_get(name))
    try:
        _download(spec, cached)
    except (OSError, ValueError) as exc:
        raise DataUnavailable(_how_to_get(name) + f" Last error: {exc}") from exc
    return _verify(cached, spec, name)


def _required(name: str) -> list[dict]:
    """Files a dataset needs: all with an origin URL (a url-less SOURCE.md note is optional metadata)."""
    return [f for f in entry(name)["files"] if f.get("url")]


def fetch(name: str) -> Path:
    """Return a folder holding every verified file of dataset ``name`` (same layout as its mirror folder)."""
    files = _required(name)
    mirror = mirror_dir()
    for root in (cache_dir() / name, mirror / name if mirror else None):
        if root is not None and all((root / f["path"]).is_file() for f in files):
            for f in files:
                _verify(root / f["path"], f, name)
            return root
    for f in files:
        got = fetch_file(name, f["path"])
        target = cache_dir() / name / f["path"]
        if got != target:  # partly mirrored: gather everything in the cache so one folder holds it all
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(got, target)
    return cache_dir() / name


def availability() -> dict[str, str]:
    """For each registered dataset: ``cache``, ``mirror`` or ``missing`` (file presence only, no hashing)."""
    out = {}
    mirror = mirror_dir()
    for name in registry():
        paths = [f["path"] for f in _required(name)]
        if all((cache_dir() / name / p).is_file() for p in paths):
            out[name] = "cache"
        elif mirror is not None and all((mirror / name / p).is_file() for p in paths):
            out[name] = "mirror"
        else:
            out[name] = "missing"
    return out


def banner(message: str) -> str:
    """A loud, boxed banner (printed when a notebook falls back to synthetic data)."""
    width = max(len(line) for line in message.splitlines()) + 4
    bar = "#" * width
    body = "\n".join(f"# {line.ljust(width - 4)} #" for line in message.splitlines())
    return f"{bar}\n{body}\n{bar}"


def load_or_synthetic(loader: Callable[[], T], synthetic: Callable[[], T], what: str) -> tuple[T, bool]:
    """Run ``loader()``; if its data is unavailable, announce loudly and return ``(synthetic(), True)``."""
    try:
        return loader(), False
    except DataUnavailable as exc:
        print(banner(f"OFFLINE FALLBACK: {what} is unavailable, using the SYNTHETIC generator instead.\n"
                     f"Results below are NOT on the real data.\n{str(exc)[:300]}"))
        return synthetic(), True
