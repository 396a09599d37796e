"""A module the wasm sandbox lacks: the error and its note agree on what the sandbox has. With
packages granted it says so (never "without ... pip packages" followed by "only the granted
packages"); without any, it still says there are none."""

from __future__ import annotations

from pathlib import Path

from codeact import CodeAct, Limits
from codeact.sandbox.packages import resolve_packages

LIMITS = Limits(wall_time=30, memory_mb=512)


async def test_with_packages_granted_the_error_names_them_and_not_none(
    wasm_ready: None, pure_wheelhouse: Path
) -> None:
    grant = resolve_packages(["tinycalc==1.0"], target="wasm", wheelhouse=pure_wheelhouse)
    result = await CodeAct(backend="wasm", packages=grant, limits=LIMITS).execute("import nosuch")
    assert result.error is not None and result.error.type == "ModuleNotFoundError"
    assert "pip packages" not in result.error.message, result.error.message
    assert "only the granted packages (tinycalc)" in result.error.message
    assert "granted packages (tinycalc)" in result.error.traceback


async def test_without_packages_it_says_there_are_none(wasm_ready: None) -> None:
    result = await CodeAct(backend="wasm", limits=LIMITS).execute("import nosuch")
    assert result.error is not None and result.error.type == "ModuleNotFoundError"
    assert "without native extensions or pip packages" in result.error.message
