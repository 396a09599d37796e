"""Every ```python block in README.md (and docs/*.md) runs, as a user would paste it.

A block preceded by ``<!-- not run: REASON -->`` is reported as skipped with that reason; one
preceded by ``<!-- needs codeact[EXTRA]: MODULE ... -->`` is skipped when a module is missing.
A comment does not render, so the line above it says, readably, what to install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(
    r"(<!--\s*not run:\s*(?P<skip>.*?)-->\s*)?"
    r"(<!--\s*needs\s+(?P<extra>\S+):\s*(?P<needs>.*?)-->\s*)?"
    r"```python\n(?P<code>.*?)```",
    re.S,
)


def _blocks() -> list[pytest.ParameterSet]:
    params = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if not doc.exists():
            continue
        text = doc.read_text()
        for match in _BLOCK.finditer(text):
            line = text[: match.start("code")].count("\n") + 1
            marks = [pytest.mark.skip(reason=match["skip"].strip())] if match["skip"] else []
            missing = [m for m in (match["needs"] or "").split() if not _importable(m)]
            if missing:
                extra = match["extra"].removeprefix("codeact[").removesuffix("]")
                reason = f"needs pip install -e '.[{extra}]' ({', '.join(missing)} missing)"
                marks.append(pytest.mark.skip(reason=reason))
            params.append(pytest.param(match["code"], id=f"{doc.name}:{line}", marks=marks))
    return params


_NEEDS = re.compile(r"(?P<before>[^\n]*)\n\n<!--\s*needs\s+codeact\[(?P<extra>[^\]]+)\]:")


def test_the_extra_an_example_needs_is_shown_above_it() -> None:
    """The rendered page says what to install before each example that needs an extra."""
    shown = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in _NEEDS.finditer(doc.read_text()):
            wanted = f"Needs `pip install -e '.[{match['extra']}]'` in the checkout:"
            assert match["before"] == wanted, f"{doc.name}: {match['before']!r}"
            shown.append(match["extra"])
    assert len(shown) == (ROOT / "README.md").read_text().count("<!-- needs") + sum(
        p.read_text().count("<!-- needs") for p in (ROOT / "docs").glob("*.md")
    )


def test_an_examples_modules_come_with_the_extra_it_names() -> None:
    """``pip install -e '.[EXTRA]'`` brings each module an example needs: the module's
    distribution is a requirement of that extra, or one of theirs (``langchain``, for
    ``create_agent``, came with no extra while the examples told a newcomer to use it)."""
    if sys.version_info < (3, 11):
        pytest.skip("reads pyproject.toml with tomllib (Python 3.11+)")
    tomllib = importlib.import_module("tomllib")  # mypy checks as Python 3.10, which lacks it
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras: dict[str, list[str]] = pyproject["project"]["optional-dependencies"]
    provided = importlib.metadata.packages_distributions()
    checked = 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in _BLOCK.finditer(doc.read_text()):
            if not match["extra"]:
                continue
            extra = match["extra"].removeprefix("codeact[").removesuffix("]")
            brought = _with_dependencies(extras[extra])
            for module in match["needs"].split():
                dists = {_dist_name(d) for d in provided.get(module.split(".")[0], [])}
                if not dists:
                    continue  # not installed here: the example is skipped too
                assert dists & brought, f"{doc.name}: {module} needs {dists}; '.[{extra}]' lacks it"
                checked += 1
    assert checked


def _with_dependencies(requirements: list[str]) -> set[str]:
    """The distributions `requirements` name, and the installed ones they depend on."""
    todo = [_dist_name(r) for r in requirements]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo.extend(_dist_name(r) for r in requires if "extra ==" not in r)
    return seen


def _dist_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("code", _blocks())
def test_example_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    position = 0
    for expected in _expected_outputs(code):
        found = proc.stdout.find(expected, position)
        assert found >= 0, (
            f"{expected!r} is not in the output (after what came before):\n{proc.stdout}"
        )
        position = found + len(expected)


def _expected_outputs(code: str) -> list[str]:
    """The comment after each print-like call, e.g. ``print(x)  # 42``, in order. A comment
    with ``...`` in it elides and is not compared; in ``# True; more words`` the value is what
    comes before ``"; "``."""
    expected = []
    for line in code.splitlines():
        m = re.search(r"^\s*(?:print\(.*\)|asyncio\.run\(main\(\)\))\s+#\s+(.+)$", line)
        if m and "..." not in m.group(1):
            expected.append(m.group(1).split("; ")[0].strip())
    return expected
