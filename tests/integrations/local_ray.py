"""A local Ray of two CPUs for a test module (import it after `pytest.importorskip("ray")`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import ray
from ray import cloudpickle


@contextlib.contextmanager
def local_ray_for(module: str) -> Iterator[None]:
    """Ray started here for the tests of `module`, whose functions and tools Ray's workers
    unpickle by value (a test module is no package they can import), shut down after."""
    cloudpickle.register_pickle_by_value(sys.modules[module])
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[module])
