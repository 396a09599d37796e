"""Without an optional extra, a newcomer gets one line saying what to install, in the form that
works: codeact is installed from a checkout (``pip install -e '.[EXTRA]'``); it is on no
package index, so asking pip for ``codeact[EXTRA]`` finds nothing.

Each case runs in a new interpreter in which the extra's packages cannot be imported (a
meta-path finder says "No module named ...", as when they are not installed)."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import codeact.integrations

ROOT = Path(__file__).resolve().parents[2]

#: Each public module that needs an extra: (the extra, the packages it brings, the one whose
#: absence the message names). A new integration is added here, or the first test fails.
NEEDS: dict[str, tuple[str, frozenset[str], str]] = {
    "codeact.integrations.agent_framework": (
        "agent-framework",
        frozenset({"agent_framework"}),
        "agent_framework",
    ),
    "codeact.integrations.fastmcp": ("fastmcp", frozenset({"fastmcp"}), "fastmcp"),
    "codeact.integrations.langchain": (
        "langchain",
        frozenset({"langchain_core", "langgraph"}),
        "langchain_core",
    ),
    "codeact.integrations.mcp": ("mcp", frozenset({"mcp", "mcp_types"}), "mcp_types"),
    "codeact.integrations.mcp_approvals": ("mcp", frozenset({"mcp", "mcp_types"}), "mcp_types"),
    "codeact.integrations.mcp_client": ("mcp", frozenset({"mcp", "mcp_types"}), "mcp_types"),
    "codeact.integrations.mcp_server": ("mcp", frozenset({"mcp", "mcp_types"}), "mcp_types"),
    "codeact.integrations.openai_agents": ("openai-agents", frozenset({"agents"}), "agents"),
    "codeact.integrations.pydantic_ai": ("pydantic-ai", frozenset({"pydantic_ai"}), "pydantic_ai"),
    "codeact.integrations.smolagents": ("smolagents", frozenset({"smolagents"}), "smolagents"),
    "codeact.ray": ("ray", frozenset({"ray"}), "ray"),
}

_ABSENT = """\
import sys

class _Absent:  # these packages are not installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Absent())
"""


def _run_without(blocked: frozenset[str], code: str) -> subprocess.CompletedProcess[str]:
    program = _ABSENT.format(blocked=sorted(blocked)) + code
    return subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _hint(extra: str) -> str:
    return f"pip install -e '.[{extra}]' in the codeact checkout"


def test_every_public_integration_module_is_checked() -> None:
    public = {
        f"codeact.integrations.{m.name}"
        for m in pkgutil.iter_modules(codeact.integrations.__path__)
        if not m.name.startswith("_")
    }
    assert public | {"codeact.ray"} == set(NEEDS)


@pytest.mark.parametrize("module", sorted(NEEDS))
def test_importing_without_the_extra_is_one_line_saying_what_to_install(module: str) -> None:
    extra, blocked, missing = NEEDS[module]
    proc = _run_without(blocked, f"import {module}\n")
    # was (langchain, pydantic_ai, ...): ModuleNotFoundError: No module named 'langchain_core';
    # (codeact.ray): "codeact.ray needs Ray", then an install of codeact[ray] from an index
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("codeact.errors.MissingExtra: "), proc.stderr
    assert last.endswith(
        f"needs the {extra} extra (No module named '{missing}'): {_hint(extra)}"
    ), proc.stderr
    # one exception, not the import's own traceback and then ours
    assert proc.stderr.count("Traceback (most recent call last)") == 1, proc.stderr
    assert "codeact[" not in proc.stderr


@pytest.mark.parametrize("module", ["codeact.integrations.langchain", "codeact.ray"])
def test_the_missing_extra_is_still_an_import_error(module: str) -> None:
    _, blocked, missing = NEEDS[module]
    code = (
        "from codeact.errors import ConfigurationError\n"
        f"try:\n    import {module}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, isinstance(exc, ConfigurationError), exc.name)\n"
    )
    proc = _run_without(blocked, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["MissingExtra", "True", missing]


def test_serve_mcp_without_mcp_is_one_line_saying_what_to_install() -> None:
    code = (
        "import runpy\n"
        "sys.argv = ['codeact', 'serve-mcp', '--tools', 'codeact.workloads.order_totals']\n"
        "runpy.run_module('codeact', run_name='__main__', alter_sys=True)\n"
    )
    proc = _run_without(frozenset({"mcp", "mcp_types"}), code)
    # was: codeact: error: No module named 'mcp_types'
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "codeact: error: codeact serve-mcp needs the mcp extra (No module named 'mcp_types'): "
        f"{_hint('mcp')}\n"
    )


_INDEX_INSTALL = re.compile(r"pip3? install\s+(?:-U\s+|--upgrade\s+)?['\"]?codeact\b")


def test_no_hint_installs_codeact_from_an_index() -> None:
    """Every install hint in the code, the docs and the tests is one that works."""
    files = [ROOT / "README.md"]
    for folder in ("src", "docs", "tests", "scripts"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    wrong = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _INDEX_INSTALL.search(line)
    ]
    assert wrong == []
