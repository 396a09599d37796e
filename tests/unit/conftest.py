"""Fixtures shared by the unit tests of several modules."""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.fixture
def affinity_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, set[int]]]:
    """Every os.sched_setaffinity call, passed on to the real one, with thread placement on
    (`codeact.sandbox.placement`): what the placement tests check it did."""
    from codeact.sandbox import placement

    calls: list[tuple[int, set[int]]] = []
    real = os.sched_setaffinity

    def spy(pid: int, mask: Any) -> None:
        calls.append((pid, set(mask)))
        real(pid, mask)

    monkeypatch.setattr(os, "sched_setaffinity", spy)
    monkeypatch.setattr(placement, "ENABLED", True)
    return calls
