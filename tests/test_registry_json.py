"""The committed dataset registry (course_lib/data/registry.json): schema, URLs, agreement with the mirror.

The mirror checks hash every mirrored file (about 55 MB, ~1 s); they are skipped when the mirror
(``COURSE_DATA_MIRROR``, default ``../shared/datasets`` next to the repository) is absent.
Regenerate the registry with ``python -m course_lib.data.build_registry <mirror>``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRY_PATH = REPO_ROOT / "course_lib" / "data" / "registry.json"
REGISTRY = json.loads(REGISTRY_PATH.read_text(encoding="utf-8"))

DATASET_KEYS = {"title", "licence", "origin", "files"}
FILE_KEYS = {"path", "sha256", "bytes", "url", "member"}
OPTIONAL_FILE_KEYS = {"member_note"}
RAW_URL_RE = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/(?P<commit>[0-9a-f]{40})/\S+$")
ORIGIN_RE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _mirror_root() -> Path:
    return Path(os.environ.get("COURSE_DATA_MIRROR") or REPO_ROOT.parent / "shared" / "datasets")


@pytest.fixture(scope="module")
def mirror() -> Path:
    root = _mirror_root()
    if not root.is_dir():
        pytest.skip(f"dataset mirror {root} not found (set COURSE_DATA_MIRROR to check against a mirror)")
    return root


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_schema_keys_and_types():
    assert REGISTRY, "registry is empty"
    for name, ds in REGISTRY.items():
        assert set(ds) == DATASET_KEYS, name
        assert isinstance(ds["title"], str) and ds["title"].strip(), name
        assert isinstance(ds["licence"], str) and ds["licence"].strip(), name
        assert all(ORIGIN_RE.match(o) for o in ds["origin"].split("; ")), (name, ds["origin"])
        assert ds["files"], name
        for f in ds["files"]:
            assert FILE_KEYS <= set(f) <= FILE_KEYS | OPTIONAL_FILE_KEYS, (name, f)
            assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]), (name, f["path"])
            assert isinstance(f["bytes"], int) and f["bytes"] >= 0, (name, f["path"])
            assert f["member"] is None or (isinstance(f["member"], str) and f["url"]), (name, f["path"])
            assert "member_note" not in f or f["member"], (name, f["path"])


def test_sorted_and_unique():
    assert list(REGISTRY) == sorted(REGISTRY)
    for name, ds in REGISTRY.items():
        paths = [f["path"] for f in ds["files"]]
        assert paths == sorted(set(paths)), name
        assert "SOURCE.md" in paths, f"{name}: SOURCE.md (licence note) must travel with the data"


def test_urls_are_pinned_raw_github():
    for name, ds in REGISTRY.items():
        commits = {o.split("@")[1] for o in ds["origin"].split("; ")}
        for f in ds["files"]:
            if f["path"] == "SOURCE.md":
                assert f["url"] is None, name
                continue
            m = RAW_URL_RE.match(f["url"] or "")
            assert m, (name, f["path"], f["url"])
            assert m["commit"] in commits, (name, f["path"], "commit not among the dataset's origins")


def test_every_mirror_dataset_is_registered(mirror):
    folders = sorted(p.name for p in mirror.iterdir() if p.is_dir())
    assert folders, f"mirror {mirror} has no dataset folders"
    missing = [name for name in folders if name not in REGISTRY]
    assert not missing, f"mirror datasets without a registry entry: {missing}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_mirror_files_match_registry(mirror, name):
    folder = mirror / name
    if not folder.is_dir():
        pytest.skip(f"{name} is not in the mirror {mirror}")
    specs = {f["path"]: f for f in REGISTRY[name]["files"]}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    unregistered, missing = sorted(present - set(specs)), sorted(set(specs) - present)
    assert not unregistered and not missing, f"{name}: unregistered {unregistered[:5]}, missing {missing[:5]}"
    for path, spec in specs.items():
        assert (folder / path).stat().st_size == spec["bytes"], (name, path)
        assert _sha256(folder / path) == spec["sha256"], (name, path)
