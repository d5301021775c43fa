"""Shared test settings: a hypothesis profile that keeps property tests quick and reproducible."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "simfunc",
    max_examples=int(os.environ.get("SIMFUNC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("simfunc")
