"""`--package` on the command line, `codeact sandbox packages` and doctor: real processes,
a wheelhouse built by the test (no network)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")


def test_exec_with_a_package(pure_wheelhouse: Path) -> None:
    proc = codeact_cli(
        "exec", "-", "--backend", "wasm", "--package", "tinyfmt",
        "--find-links", str(pure_wheelhouse), "--json",
        stdin="import tinyfmt\ntinyfmt.show([2, 4])",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["value"] == "3.0"
    assert result["packages"] == ["tinycalc==1.0", "tinyfmt==1.0"]


def test_exec_refuses_a_native_package_on_wasm_in_one_line(pure_wheelhouse: Path) -> None:
    proc = codeact_cli(
        "exec", "-", "--backend", "wasm", "--package", "tinynative",
        "--find-links", str(pure_wheelhouse), stdin="1",
    )  # fmt: skip
    assert proc.returncode == 2
    # the fetch is said first (pip works seconds to minutes); the refusal is one line after it
    said, error = proc.stderr.strip().split("\n", 1)
    assert said == "codeact: fetching tinynative for the wasm sandbox with pip (once per set)..."
    assert "\n" not in error and "Traceback" not in error
    assert "tinynative" in error and "backend='jail'" in error


def test_sandbox_packages_add_list_and_doctor(pure_wheelhouse: Path) -> None:
    added = codeact_cli(
        "sandbox", "packages", "add", "tinycalc==1.0", "--find-links", str(pure_wheelhouse)
    )
    assert added.returncode == 0, added.stderr
    assert "tinycalc==1.0" in added.stdout and "(import tinycalc)" in added.stdout
    key = added.stdout.split()[0]
    listed = codeact_cli("sandbox", "packages", "list")
    assert key in listed.stdout
    doctor = codeact_cli("doctor", "--runs", "0")
    assert "packages installed for sandboxes:" in doctor.stdout and key in doctor.stdout


def test_serve_mcp_takes_packages_too() -> None:
    proc = codeact_cli("serve-mcp", "--help")
    assert "--package REQUIREMENT" in proc.stdout and "--find-links DIR" in proc.stdout


def test_remove_by_a_package_name_says_what_key_to_give(tmp_path: Path) -> None:
    env = {**os.environ, "CODEACT_CACHE_DIR": str(tmp_path / "cache")}
    proc = codeact_cli("sandbox", "packages", "remove", "tabulate", env=env)
    # was: "give at least 6 hex digits of the entry's key (see `list`)"
    assert proc.returncode == 2
    assert proc.stderr == (
        "codeact: error: 'tabulate' is not a package set's key: give at least 6 hex digits of "
        "the key that `codeact sandbox packages list` shows (cached_grants() in Python)\n"
    )
