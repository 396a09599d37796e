"""Backend lookup: `auto` picks the strongest available, names fail clearly when unavailable,
and `codeact doctor` reports every backend."""

from __future__ import annotations

import json

import pytest

from codeact import BackendUnavailable, CodeAct, ConfigurationError
from codeact.sandbox import registry
from codeact.sandbox.base import Availability
from codeact.sandbox.registry import (
    AUTO_ORDER,
    backend_availability,
    backend_names,
    create_backend,
    resolve_auto,
)

from ..cli_run import run_codeact as codeact_cli


def test_auto_tries_the_strongest_isolation_first() -> None:
    assert AUTO_ORDER == ("hyperlight", "wasm", "jail")
    assert set(AUTO_ORDER) <= set(backend_names())


@pytest.mark.parametrize(
    ("available", "chosen"),
    [
        ({"hyperlight", "wasm", "jail"}, "hyperlight"),
        ({"wasm", "jail"}, "wasm"),
        ({"jail"}, "jail"),
    ],
)
def test_auto_takes_the_first_available(
    monkeypatch: pytest.MonkeyPatch, available: set[str], chosen: str
) -> None:
    def fake(name: str) -> Availability:
        return Availability(name in available, "" if name in available else f"no {name} here")

    monkeypatch.setattr(registry, "backend_availability", fake)
    assert resolve_auto() == chosen


def test_auto_with_nothing_available_says_why_for_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "backend_availability", lambda n: Availability(False, f"no {n}"))
    with pytest.raises(BackendUnavailable) as info:
        resolve_auto()
    for name in AUTO_ORDER:
        assert f"{name}: no {name}" in str(info.value)


def test_auto_on_this_machine_is_the_first_available_backend() -> None:
    expected = next(n for n in AUTO_ORDER if backend_availability(n).available)
    assert resolve_auto() == expected
    assert CodeAct(backend="auto").backend.name == expected


def test_an_unavailable_backend_fails_with_its_reason() -> None:
    unavailable = [n for n in backend_names() if not backend_availability(n).available]
    if not unavailable:
        pytest.skip("every backend is available on this machine")
    name = unavailable[0]
    with pytest.raises(BackendUnavailable) as info:
        create_backend(name)
    assert info.value.backend == name
    assert info.value.reason == backend_availability(name).reason
    assert info.value.reason


def test_an_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeAct(backend="chroot")
    for name in ["auto", *backend_names()]:
        assert name in str(info.value)


@pytest.mark.usefixtures("wasm_ready")
def test_doctor_json_reports_every_backend() -> None:
    proc = codeact_cli("doctor", "--json", "--runs", "2")
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    assert sorted(r["backend"] for r in reports) == sorted(backend_names())
    for report in reports:
        assert {"backend", "available", "reason", "isolation", "fresh_exec_ms"} <= set(report)
        assert report["isolation"] in ("strongest", "strong", "medium")
        if report["available"]:
            assert report["fresh_exec_ms"] > 0
        else:
            assert report["reason"] and report["fresh_exec_ms"] is None
    assert [r["backend"] for r in reports if r["auto"]] == [resolve_auto()]


@pytest.mark.usefixtures("wasm_ready")
def test_doctor_prints_a_table_with_the_reasons() -> None:
    proc = codeact_cli("doctor", "--runs", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["backend", "available", "isolation", "fresh"]
    for name in backend_names():
        availability = backend_availability(name)
        assert any(line.startswith(name) for line in lines[2:])
        if not availability.available:
            assert f"{name}: {availability.reason}" in proc.stdout
