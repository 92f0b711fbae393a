"""The data registry's resolution order, checksum verification and offline behaviour (no network)."""
import hashlib
import json

import pytest

from course_lib import data


@pytest.fixture
def fake_registry(tmp_path, monkeypatch):
    """A one-dataset registry whose 'origin' is a local file:// URL, plus empty cache and mirror folders."""
    origin = tmp_path / "origin"
    origin.mkdir()
    payload = b"hello,world\n1,2\n"
    (origin / "table.csv").write_bytes(payload)
    reg = {"toy": {"title": "Toy", "licence": "CC0", "origin": "me/toy@" + "0" * 40, "files": [
        {"path": "sub/table.csv", "sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload),
         "url": (origin / "table.csv").as_uri(), "member": None},
        {"path": "SOURCE.md", "sha256": "0" * 64, "bytes": 1, "url": None, "member": None}]}}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(reg))
    monkeypatch.setattr(data, "REGISTRY_PATH", path)
    data.registry.cache_clear()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "mirror"))
    (tmp_path / "mirror").mkdir()
    yield tmp_path, payload
    data.registry.cache_clear()


def test_offline_without_mirror_is_a_clear_error(fake_registry, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(data.DataUnavailable, match="COURSE_OFFLINE=1.*COURSE_DATA_MIRROR|COURSE_DATA_MIRROR"):
        data.fetch("toy")
    assert data.availability() == {"toy": "missing"}


def test_mirror_is_used_and_verified(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    (tmp / "mirror" / "toy" / "sub").mkdir(parents=True)
    (tmp / "mirror" / "toy" / "sub" / "table.csv").write_bytes(payload)
    assert data.fetch("toy") == tmp / "mirror" / "toy"
    assert data.availability() == {"toy": "mirror"}
    (tmp / "mirror" / "toy" / "sub" / "table.csv").write_bytes(payload + b"tampered")
    with pytest.raises(data.ChecksumMismatch, match="toy/sub/table.csv"):
        data.fetch_file("toy", "sub/table.csv")


def test_download_goes_to_cache_and_is_verified(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    got = data.fetch("toy")
    assert got == tmp / "cache" / "toy" and (got / "sub" / "table.csv").read_bytes() == payload
    assert data.availability() == {"toy": "cache"}


def test_download_with_wrong_checksum_fails(fake_registry, monkeypatch):
    tmp, _ = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    (tmp / "origin" / "table.csv").write_bytes(b"different bytes")
    with pytest.raises(data.ChecksumMismatch, match="registry expects"):
        data.fetch("toy")


def test_unknown_names(fake_registry):
    with pytest.raises(KeyError, match="registered datasets: toy"):
        data.fetch("nope")
    with pytest.raises(KeyError, match="has no file"):
        data.fetch_file("toy", "missing.csv")


def test_load_or_synthetic_banner(capsys):
    def loader():
        raise data.DataUnavailable("gone")

    value, synthetic = data.load_or_synthetic(loader, lambda: 7, what="toy data")
    assert (value, synthetic) == (7, True)
    assert "OFFLINE FALLBACK" in capsys.readouterr().out
    assert data.load_or_synthetic(lambda: 1, lambda: 7, what="toy") == (1, False)


def test_real_registry_resolves_through_mirror():
    if data.mirror_dir() is None:
        pytest.skip("COURSE_DATA_MIRROR is not set (no ../shared/datasets beside the repo)")
    root = data.fetch("nations")
    assert (root / "train.txt").read_text().count("\n") == 1592


# ------------------------------------------------------------------------------------ integrity of the cache
def _put(root, rel, content: bytes):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_corrupt_cache_file_is_replaced_from_the_mirror(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _put(tmp / "mirror" / "toy", "sub/table.csv", payload)
    cached = _put(tmp / "cache" / "toy", "sub/table.csv", b"bit rot")
    with pytest.warns(RuntimeWarning, match="moved it to"):
        root = data.fetch("toy")
    assert root == tmp / "cache" / "toy" and cached.read_bytes() == payload  # repaired in place, from the mirror
    aside = list((tmp / "cache" / ".corrupt" / "toy").rglob("table.csv.*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"bit rot"
    assert not list((tmp / "cache" / "toy").rglob(".*.part"))
    assert data.fetch_file("toy", "sub/table.csv") == cached  # now good: no further warning, no new copy


def test_corrupt_cache_file_is_replaced_from_the_origin(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    cached = _put(tmp / "cache" / "toy", "sub/table.csv", b"bit rot")
    with pytest.warns(RuntimeWarning, match="registry expects"):
        assert data.fetch_file("toy", "sub/table.csv") == cached
    assert cached.read_bytes() == payload


def test_corrupt_cache_file_without_a_good_copy_is_a_checksum_error(fake_registry, monkeypatch):
    tmp, _ = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _put(tmp / "cache" / "toy", "sub/table.csv", b"bit rot")
    with pytest.warns(RuntimeWarning), pytest.raises(data.ChecksumMismatch, match="moved to .*No good copy"):
        data.fetch_file("toy", "sub/table.csv")
    assert not (tmp / "cache" / "toy" / "sub" / "table.csv").exists()  # the bad file no longer shadows anything


def test_corrupt_mirror_file_falls_through_to_the_origin(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    _put(tmp / "mirror" / "toy", "sub/table.csv", b"tampered")
    assert data.fetch("toy") == tmp / "cache" / "toy"
    assert (tmp / "cache" / "toy" / "sub" / "table.csv").read_bytes() == payload
    assert (tmp / "mirror" / "toy" / "sub" / "table.csv").read_bytes() == b"tampered"  # the mirror is read-only


def test_bad_download_never_reaches_the_cache(fake_registry, monkeypatch):
    tmp, _ = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    (tmp / "origin" / "table.csv").write_bytes(b"different bytes")
    with pytest.raises(data.ChecksumMismatch, match="not stored"):
        data.fetch_file("toy", "sub/table.csv")
    leftovers = [p for p in (tmp / "cache").rglob("*") if p.is_file()] if (tmp / "cache").exists() else []
    assert leftovers == []  # neither the file nor a temporary part of it


def test_download_is_streamed_in_bounded_chunks(fake_registry, monkeypatch):
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    reads = []
    real = data.urllib.request.urlopen

    class Recording:
        def __init__(self, resp):
            self.resp, self.headers = resp, resp.headers

        def read(self, n=-1):
            reads.append(n)
            return self.resp.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.resp.close()

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout=None: Recording(real(url)))
    assert data.fetch_file("toy", "sub/table.csv").read_bytes() == payload
    assert reads and all(n is not None and 0 < n <= 1 << 20 for n in reads)  # never read() of the whole body


def test_mirror_to_cache_copy_is_atomic(fake_registry, monkeypatch):
    """A copy interrupted before its rename leaves neither a partial target nor a temporary file behind."""
    tmp, payload = fake_registry
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _put(tmp / "mirror" / "toy", "sub/table.csv", payload)
    cached = _put(tmp / "cache" / "toy", "sub/table.csv", b"bit rot")
    real_replace = data.os.replace

    def interrupted(src, dst):
        if str(src).endswith(".part"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(data.os, "replace", interrupted)
    with pytest.warns(RuntimeWarning), pytest.raises(KeyboardInterrupt):
        data.fetch_file("toy", "sub/table.csv")
    assert not cached.exists() and list(cached.parent.iterdir()) == []
    monkeypatch.setattr(data.os, "replace", real_replace)
    assert data.fetch("toy") == tmp / "mirror" / "toy"  # the bad copy no longer shadows the mirror


def test_verify_files_checks_a_caller_given_folder(fake_registry, tmp_path):
    _, payload = fake_registry
    root = tmp_path / "elsewhere"
    with pytest.raises(data.DataUnavailable, match="missing"):
        data.verify_files("toy", root)
    _put(root, "sub/table.csv", payload + b"x")
    with pytest.raises(data.ChecksumMismatch, match="toy/sub/table.csv"):
        data.verify_files("toy", root, ["sub/table.csv"])
    _put(root, "sub/table.csv", payload)
    assert data.verify_files("toy", root) == root


@pytest.fixture(params=["tar.gz", "zip"])
def archive_registry(request, tmp_path, monkeypatch):
    """A dataset of three files that all come from one archive at a file:// origin."""
    import io
    import tarfile
    import zipfile

    members = {f"pack/{k}.txt": f"{k}\n".encode() * (k + 1) for k in range(3)}
    archive = tmp_path / f"pack.{request.param}"
    if request.param == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for m, b in members.items():
                zf.writestr(m, b)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for m, b in members.items():
                info = tarfile.TarInfo(m)
                info.size = len(b)
                tf.addfile(info, io.BytesIO(b))
    files = [{"path": m.split("/")[1], "sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b),
              "url": archive.as_uri(), "member": m} for m, b in members.items()]
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"pack": {"title": "Pack", "licence": "CC0", "origin": "me/pack@" + "0" * 40,
                                         "files": files}}))
    monkeypatch.setattr(data, "REGISTRY_PATH", path)
    data.registry.cache_clear()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    calls = []
    real = data.urllib.request.urlopen
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout=None: calls.append(url) or real(url))
    yield members, calls
    data.registry.cache_clear()


def test_an_archive_is_fetched_once_for_all_its_members(archive_registry):
    members, calls = archive_registry
    root = data.fetch("pack")
    assert len(calls) == 1
    assert {p.name: p.read_bytes() for p in root.iterdir()} == {m.split("/")[1]: b for m, b in members.items()}
    data.fetch("pack")
    assert len(calls) == 1  # everything cached now


def test_one_member_request_stores_its_siblings_too(archive_registry):
    _, calls = archive_registry
    data.fetch_file("pack", "1.txt")
    data.fetch_file("pack", "2.txt")
    data.fetch_file("pack", "0.txt")
    assert len(calls) == 1


def test_verify_command(fake_registry, monkeypatch, capsys):
    from course_lib.data.__main__ import main as cli

    tmp, payload = fake_registry
    _put(tmp / "mirror" / "toy", "sub/table.csv", payload)
    assert cli(["verify"]) == 0 and "toy" in capsys.readouterr().out
    _put(tmp / "mirror" / "toy", "sub/table.csv", b"tampered")
    assert cli(["verify"]) == 1 and "FAILED" in capsys.readouterr().out
