"""The data registry: every dataset the workbook uses, with sha256-verified files and their public origin.

Resolution order for a dataset's files:

1. the local cache ``COURSE_DATA_DIR`` (default: the user cache dir, ``.../course_lib/datasets``);
2. a mirror folder ``COURSE_DATA_MIRROR`` laid out as ``<mirror>/<name>/<path>`` (the Makefile and CI point
   it at ``../shared/datasets`` when that folder exists);
3. a download from the file's origin URL into the cache, with a progress bar, unless ``COURSE_OFFLINE=1``
   (tests and CI never download).

Every file is sha256-verified: a download or a mirror→cache copy is streamed to a temporary file and renamed into
the cache only when its hash matches; a cached file with a wrong hash is moved aside (``<cache>/.corrupt/``) and
fetched again from the mirror or the origin. An archive is downloaded once for all its registered members. Folders
that did not come from :func:`fetch` are checked with :func:`verify_files` before anything reads them. Datasets
are never copied into the repository.
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import IO, TypeVar

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


def _remember(path: Path, digest: str) -> None:
    stat = path.stat()
    _verified[(str(path.resolve()), stat.st_size, stat.st_mtime)] = digest


def _mismatch(name: str, spec: dict, where: Path, got: str) -> str:
    return f"{name}/{spec['path']}: sha256 of {where} is {got}, registry expects {spec['sha256']}"


def _verify(path: Path, spec: dict, name: str) -> Path:
    got = sha256_of(path)
    if got != spec["sha256"]:
        raise ChecksumMismatch(_mismatch(name, spec, path, got) + ". Delete the file and fetch it again.")
    return path


def verify_files(name: str, root: str | Path, paths: Iterable[str] | None = None) -> Path:
    """Check files of dataset ``name`` found under a caller-given folder ``root`` (laid out like its mirror
    folder) against the registry: every path in ``paths`` (default: all files with an origin) must exist and
    match its sha256, else :class:`DataUnavailable` / :class:`ChecksumMismatch` naming the file. Returns ``root``.
    Use it before reading anything from a folder that did not come from :func:`fetch`."""
    root = Path(root)
    specs = {f["path"]: f for f in entry(name)["files"]}
    for path in (list(paths) if paths is not None else [f["path"] for f in _required(name)]):
        if path not in specs:
            raise KeyError(f"dataset {name!r} has no file {path!r}")
        if not (root / path).is_file():
            raise DataUnavailable(f"{root / path} is missing: {root} does not hold dataset {name!r}")
        _verify(root / path, specs[path], name)
    return root


def _quarantine(path: Path, name: str, spec: dict, got: str) -> Path:
    """Move a cached file whose sha256 is wrong out of the dataset folder (into ``<cache>/.corrupt/``)."""
    dest = cache_dir() / ".corrupt" / name / f"{spec['path']}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, dest)
    except FileNotFoundError:  # another process moved it aside first
        return dest
    warnings.warn(f"{_mismatch(name, spec, path, got)}; moved it to {dest} and fetching a good copy",
                  RuntimeWarning, stacklevel=3)
    return dest


def _write_verified(src: IO[bytes], dest: Path, spec: dict, name: str, origin: str, bar=None) -> None:
    """Stream ``src`` into a temporary file beside ``dest``, hashing as it goes; rename it to ``dest`` only if the
    sha256 matches the registry (else delete it and raise :class:`ChecksumMismatch`)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec["sha256"]:
            raise ChecksumMismatch(_mismatch(name, spec, Path(origin), digest.hexdigest()) +
                                   "; the file was not stored.")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _remember(dest, spec["sha256"])


def _copy_verified(src: Path, dest: Path, spec: dict, name: str) -> Path:
    """Atomic, verified copy of a file (mirror → cache)."""
    with src.open("rb") as fh:
        _write_verified(fh, dest, spec, name, str(src))
    return dest


def _download(url: str, specs: list[dict], name: str) -> None:
    """Download ``url`` once and store every file of ``specs`` it provides in the cache, each verified before it is
    renamed into place. A plain file is streamed straight to disk; an archive (``member`` set) is streamed to a
    temporary file and all requested members are extracted from that one download."""
    from tqdm.auto import tqdm

    root = cache_dir() / name
    root.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, leave=False) as bar:
            if not specs[0].get("member"):  # a plain file: straight to disk
                _write_verified(resp, root / specs[0]["path"], specs[0], name, url, bar)
                return
            with tempfile.TemporaryFile(dir=root) as archive:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    archive.write(chunk)
                    bar.update(len(chunk))
                archive.seek(0)
                _extract(archive, url, specs, root, name)


def _extract(archive: IO[bytes], url: str, specs: list[dict], root: Path, name: str) -> None:
    if url.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for spec in specs:
                try:
                    member = zf.open(spec["member"])
                except KeyError:
                    raise DataUnavailable(f"archive {url} has no member {spec['member']!r}") from None
                with member:
                    _write_verified(member, root / spec["path"], spec, name, f"{url}!{spec['member']}")
        return
    with tarfile.open(fileobj=archive) as tf:
        for spec in specs:
            try:
                member = tf.extractfile(spec["member"])
            except KeyError:
                member = None
            if member is None:
                raise DataUnavailable(f"archive {url} has no file member {spec['member']!r}")
            with member:
                _write_verified(member, root / spec["path"], spec, name, f"{url}!{spec['member']}")


def _how_to_get(name: str) -> str:
    e = entry(name)
    return (f"Dataset {name!r} ({e['title']}) is not available: not in the cache ({cache_dir() / name}), no mirror "
            f"(set COURSE_DATA_MIRROR to a folder holding {name}/), and downloads are "
            f"{'disabled (COURSE_OFFLINE=1)' if offline() else 'failing'}. Get it by running "
            f"`python -m course_lib.data fetch {name}` on a machine with internet, or copy the folder "
            f"from the course's shared data into a mirror folder. Origin: {e['origin']}.")


def _download_into_cache(name: str, spec: dict, problems: list[str]) -> Path:
    """Download ``spec`` (and every other missing cached file of the same archive, in the same request)."""
    if offline():
        raise DataUnavailable(_how_to_get(name) + (" " + "; ".join(problems) if problems else ""))
    url = spec.get("url")
    if not url:
        raise DataUnavailable(f"{name}/{spec['path']} has no public origin URL; it must come from the mirror. "
                              + _how_to_get(name))
    group = [spec]
    if spec.get("member"):
        group += [f for f in _required(name) if f.get("url") == url and f is not spec
                  and not (cache_dir() / name / f["path"]).is_file()]
    try:
        _download(url, group, name)
    except ChecksumMismatch:
        raise
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DataUnavailable(_how_to_get(name) + f" Last error: {exc}") from exc
    return cache_dir() / name / spec["path"]


def fetch_file(name: str, path: str) -> Path:
    """Return a verified local path of one registered file: the cache, then the mirror, then a download.

    A cached file with the wrong sha256 is moved aside (to ``<cache>/.corrupt/``) and replaced in the cache from the
    mirror or the origin; a mirror file with the wrong sha256 is skipped in favour of the origin (the mirror is
    read-only). If no good copy can be found, :class:`ChecksumMismatch` (a bad copy was seen) or
    :class:`DataUnavailable` says where it looked."""
    specs = {f["path"]: f for f in entry(name)["files"]}
    if path not in specs:
        raise KeyError(f"dataset {name!r} has no file {path!r}; e.g. {', '.join(list(specs)[:5])}")
    spec = specs[path]
    cached = cache_dir() / name / path
    problems: list[str] = []
    restore = False
    if cached.is_file():
        got = sha256_of(cached)
        if got == spec["sha256"]:
            return cached
        problems.append(_mismatch(name, spec, cached, got) + f" (moved to {_quarantine(cached, name, spec, got)})")
        restore = True
    mirror = mirror_dir()
    if mirror is not None and (mirror / name / path).is_file():
        got = sha256_of(mirror / name / path)
        if got == spec["sha256"]:
            return _copy_verified(mirror / name / path, cached, spec, name) if restore else mirror / name / path
        problems.append(_mismatch(name, spec, mirror / name / path, got))
    try:
        return _download_into_cache(name, spec, problems)
    except DataUnavailable as exc:
        if problems:
            raise ChecksumMismatch("; ".join(problems) + f". No good copy elsewhere: {exc}") from exc
        raise


def _required(name: str) -> list[dict]:
    """Files a dataset needs: all with an origin URL (a url-less SOURCE.md note is optional metadata)."""
    return [f for f in entry(name)["files"] if f.get("url")]


def fetch(name: str) -> Path:
    """Return a folder holding every verified file of dataset ``name`` (same layout as its mirror folder).

    A complete cache folder is used (bad files in it repaired, see :func:`fetch_file`); else a complete, intact
    mirror folder; else the files are gathered in the cache (mirror files copied atomically, the rest downloaded,
    one request per archive)."""
    files = _required(name)
    cache_root = cache_dir() / name
    if all((cache_root / f["path"]).is_file() for f in files):
        for f in files:
            fetch_file(name, f["path"])
        return cache_root
    mirror = mirror_dir()
    if mirror is not None and all((mirror / name / f["path"]).is_file() for f in files):
        if all(sha256_of(mirror / name / f["path"]) == f["sha256"] for f in files):
            return mirror / name
    for f in files:
        got = fetch_file(name, f["path"])
        target = cache_root / f["path"]
        if got != target:  # from the mirror: gather everything in the cache so one folder holds it all
            _copy_verified(got, target, f, name)
    return cache_root


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
