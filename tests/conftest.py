"""Shared test settings: hypothesis without per-example deadlines (2 shared cores make timings noisy)."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("course", deadline=None, max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "30")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("course")
