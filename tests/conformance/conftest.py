"""The conformance suite: every test here runs against every sandbox backend.

A backend that cannot run on this machine is skipped with its own reason; a backend is done
when it passes this whole suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, Limits
from codeact.sandbox.registry import backend_availability, backend_names, shared_backend


def available_backends() -> list[tuple[str, str]]:
    """(name, reason) for every registered backend; reason is "" when it can run here."""
    out = []
    for name in backend_names():
        availability = backend_availability(name)
        out.append((name, "" if availability.available else availability.reason))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames:
        params = [
            pytest.param(name, marks=pytest.mark.skip(reason=f"{name}: {reason}") if reason else ())
            for name, reason in available_backends()
        ]
        metafunc.parametrize("backend_name", params)


@pytest.fixture
def backend_name_ready(backend_name: str) -> str:
    shared_backend(backend_name).prepare()
    return backend_name


@pytest.fixture
def make_codeact(backend_name_ready: str) -> Callable[..., CodeAct]:
    """CodeAct on the backend under test: make_codeact(tools=[...], limits=Limits(...))."""

    def make(**kwargs: Any) -> CodeAct:
        kwargs.setdefault("limits", Limits(wall_time=20))
        return CodeAct(backend=backend_name_ready, **kwargs)

    return make
