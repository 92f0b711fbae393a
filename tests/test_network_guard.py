"""The test configuration keeps every test offline: COURSE_OFFLINE=1 and a socket guard that allows loopback only."""
import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from tests import network_guard


def test_offline_is_set_by_the_test_configuration():
    assert os.environ["COURSE_OFFLINE"] == "1"
    from course_lib import data

    assert data.offline()


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("2001:db8::1", 443), ("example.com", 443)])
def test_a_non_loopback_connection_is_blocked_and_recorded(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(network_guard.NetworkBlocked,
                                                                          match="may not use the network"):
        sock.connect(address)
    assert network_guard.attempts == [repr(address)]
    network_guard.attempts.clear()  # this test provoked it on purpose; any other test would now fail


def test_udp_and_connect_ex_are_guarded_too():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(network_guard.NetworkBlocked):
        sock.sendto(b"x", ("198.51.100.7", 53))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(network_guard.NetworkBlocked):
        sock.connect_ex(("203.0.113.9", 80))
    assert len(network_guard.attempts) == 2
    network_guard.attempts.clear()


def test_loopback_stays_open():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        threading.Thread(target=lambda: server.accept()[0].sendall(b"ok"), daemon=True).start()
        with socket.create_connection(("localhost", port), timeout=5) as client:
            assert client.recv(2) == b"ok"
    assert network_guard.is_loopback(("::1", 1)) and network_guard.is_loopback("/tmp/some.sock")
    assert not network_guard.is_loopback(("10.0.0.1", 1))
    assert network_guard.attempts == []


def test_the_guard_fails_a_test_that_swallows_the_error(tmp_path):
    """A test that catches the OSError still fails: the attempt is recorded and the fixture reports it."""
    (tmp_path / "test_sneaky.py").write_text(textwrap.dedent("""
        import urllib.request

        def test_download_quietly():
            try:
                urllib.request.urlopen("http://192.0.2.1/data.csv", timeout=1)
            except OSError:
                pass
    """))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    conftest = os.path.join(root, "tests", "conftest.py")
    (tmp_path / "conftest.py").write_text(open(conftest).read())
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "tried to reach the network" in out.stdout and "192.0.2.1" in out.stdout
