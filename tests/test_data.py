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
