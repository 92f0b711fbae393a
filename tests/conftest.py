"""Shared test settings: offline (``COURSE_OFFLINE=1`` and a socket guard that fails any test opening a non-loopback
connection, see ``tests/network_guard.py``); hypothesis without per-example deadlines (2 shared cores make timings
noisy)."""
import os

import pytest
from hypothesis import HealthCheck, settings

from tests import network_guard

os.environ["COURSE_OFFLINE"] = "1"  # set by the test configuration itself, whatever the caller's environment
os.environ["HF_HUB_OFFLINE"] = "1"
# library defaults resolve through COURSE_DEVICE (auto picks a GPU): unit tests build CPU tensors, so they run on
# the CPU unless the caller asks otherwise (COURSE_DEVICE=cuda make test); GPU paths have their own skipif tests
os.environ.setdefault("COURSE_DEVICE", "cpu")
network_guard.install()


@pytest.fixture(autouse=True)
def _no_network():
    """Fail the test if it tried to open a non-loopback connection (even if the code swallowed the error)."""
    network_guard.attempts.clear()
    yield
    if network_guard.attempts:
        tried = ", ".join(network_guard.attempts)
        network_guard.attempts.clear()
        pytest.fail(f"the test tried to reach the network ({tried}); tests must run offline", pytrace=False)


settings.register_profile("course", deadline=None, max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "30")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("course")
