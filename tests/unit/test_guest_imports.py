"""Code that runs outside the host process (`codeact/sandbox/guest/`) imports only the standard
library and its own modules: it is loaded where the host package and its dependencies are
absent (a WASI CPython, the jail's zygote started with ``-I -S``, a hyperlight worker)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import codeact.sandbox
from codeact.sandbox.guest import RUNNER_MODULES

GUEST = Path(codeact.sandbox.__file__).resolve().parent / "guest"

#: Modules of the guest that others import by their plain name (the runner is loaded as a
#: top-level module on every backend), and what the wasm guest's build generates: the bindings
#: componentize-py makes from ``guest/wasm/wit`` and the time zones (``wasm/build.py``).
OWN = {*RUNNER_MODULES, "codeact_guest"}
GENERATED = {"wit_world", "componentize_py_types", "componentize_py_runtime", "codeact_tzdata"}


def _guest_files() -> list[Path]:
    files = sorted(GUEST.rglob("*.py"))
    assert len(files) > 10, f"the guest's modules were not found under {GUEST}"
    return files


def _outside_imports(source: str, depth: int) -> list[str]:
    """What a module `depth` folders below the guest folder imports that is neither the
    standard library nor the guest's own code (a relative import may not climb out of it)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > depth + 1:
                    found.append("." * node.level + (node.module or ""))
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.partition(".")[0]
            if top not in sys.stdlib_module_names and top not in OWN | GENERATED:
                found.append(name)
    return found


def test_the_guest_imports_only_the_standard_library() -> None:
    outside = {}
    for path in _guest_files():
        depth = len(path.relative_to(GUEST).parts) - 1
        names = _outside_imports(path.read_text(encoding="utf-8"), depth)
        if names:
            outside[path.relative_to(GUEST).as_posix()] = names
    assert outside == {}


def test_the_check_sees_an_import_from_outside() -> None:
    source = (
        "import os, json.decoder\nimport pydantic\nfrom codeact import tool\n"
        "from .. import wire\nfrom ...errors import SandboxError\nimport codeact_runner\n"
    )
    assert _outside_imports(source, depth=1) == ["pydantic", "codeact", "...errors"]


def test_every_backend_loads_every_module_of_the_runner() -> None:
    """The runner's folder is the list: a module added there must be in `RUNNER_MODULES` (which
    the jail's zygote and the hyperlight worker load, in its order), kept out of the wasm guest's
    importable list, and its frames hidden from tracebacks, or that backend breaks only when a
    session first needs it."""
    runtime = sorted(p.stem for p in (GUEST / "runtime").glob("*.py"))
    assert set(runtime) <= OWN
    assert sorted(RUNNER_MODULES) == runtime and RUNNER_MODULES[-1] == "codeact_runner"
    for position, module in enumerate(RUNNER_MODULES):  # each after what it imports
        source = (GUEST / "runtime" / f"{module}.py").read_text(encoding="utf-8")
        imported = set()
        for node in ast.parse(source).body:  # what loading it imports (not TYPE_CHECKING)
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        imported &= set(RUNNER_MODULES)
        assert imported <= set(RUNNER_MODULES[:position]), f"{module} imports a later module"
    for name in ("jail/zygote.py", "hyperlight/worker.py"):
        assert "RUNNER_MODULES" in (GUEST / name).read_text(encoding="utf-8"), name
    wasm = (GUEST / "wasm" / "codeact_guest.py").read_text(encoding="utf-8")
    assert 'sys.modules if name.startswith("codeact_")' in wasm
    hidden = (GUEST / "runtime" / "codeact_errors.py").read_text(encoding="utf-8")
    for module in runtime:
        assert f'"{module}.py"' in hidden, f"codeact_errors.py does not hide {module}'s frames"
