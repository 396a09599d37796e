"""Packages inside real sandboxes: importable when granted, read-only, and nothing else.

wasm gets pure-Python wheels built by the test; jail gets numpy and pandas rebuilt from this
test environment's installed distributions (see tests/conftest.py: no network either way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, Limits
from codeact.sandbox.packages import resolve_packages
from codeact.sandbox.registry import backend_availability

LIMITS = Limits(wall_time=30, memory_mb=512)


def _jail_or_skip() -> None:
    availability = backend_availability("jail")
    if not availability.available:
        pytest.skip(f"jail: {availability.reason}")


def _tree_files(tree: str) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in Path(tree).rglob("*") if p.is_file()}


# -- wasm: pure-Python wheels -----------------------------------------------------------------
async def test_a_pure_python_package_imports_in_wasm(wasm_ready: None, wasm_packages: Any) -> None:
    codeact = CodeAct(backend="wasm", packages=wasm_packages, limits=LIMITS)
    result = await codeact.execute(
        "import tinyfmt\nprint(tinyfmt.show([1, 2, 3, 6]))\ntinyfmt.__file__"
    )
    assert result.ok, result.error
    assert result.stdout == "3.0\n"
    assert result.value == "/packages/tinyfmt.py"  # the sandbox's path, not the host's cache
    assert result.packages == ["tinycalc==1.0", "tinyfmt==1.0"]
    assert result.to_dict()["packages"] == result.packages


def test_instructions_and_description_name_the_packages(wasm_packages: Any) -> None:
    codeact = CodeAct(backend="wasm", packages=wasm_packages)
    assert "import besides the standard library: tinyfmt" in codeact.build_instructions()
    assert "tinycalc==1.0, tinyfmt==1.0" in codeact.tool_description()
    assert "No pip packages" in CodeAct(backend="wasm").tool_description()


async def test_modules_load_from_bytecode_the_guest_compiled_once(
    wasm_ready: None, wasm_packages: Any
) -> None:
    codeact = CodeAct(backend="wasm", packages=wasm_packages, limits=LIMITS)
    result = await codeact.execute("import tinycalc\ntinycalc.__spec__.cached")
    assert result.ok and result.value == "/packages/tinycalc/__pycache__/__init__.cpython-314.pyc"
    assert (Path(wasm_packages.tree) / "tinycalc" / "__pycache__").is_dir()


async def test_a_package_not_granted_cannot_be_imported_in_wasm(
    wasm_ready: None, pure_wheelhouse: Path
) -> None:
    only_calc = resolve_packages(["tinycalc==1.0"], target="wasm", wheelhouse=pure_wheelhouse)
    codeact = CodeAct(backend="wasm", packages=only_calc, limits=LIMITS)
    assert (await codeact.execute("import tinycalc\ntinycalc.mean([2, 4])")).value == 3.0
    result = await codeact.execute("import tinyfmt")
    assert not result.ok and result.error is not None
    assert result.error.type == "ModuleNotFoundError"
    assert "granted packages (tinycalc)" in result.error.traceback
    plain = await CodeAct(backend="wasm", limits=LIMITS).execute("import tinycalc")
    assert not plain.ok and plain.error is not None and plain.error.type == "ModuleNotFoundError"


async def test_the_package_tree_is_read_only_in_wasm(wasm_ready: None, wasm_packages: Any) -> None:
    before = _tree_files(wasm_packages.tree)
    codeact = CodeAct(backend="wasm", packages=wasm_packages, limits=LIMITS)
    result = await codeact.execute(
        "import os\n"
        "for attempt in (lambda: open('/packages/tinyfmt.py', 'a').write('x = 1'),\n"
        "                lambda: open('/packages/evil.py', 'w').write('x = 1'),\n"
        "                lambda: os.remove('/packages/tinyfmt.py'),\n"
        "                lambda: os.rename('/packages/tinycalc', '/packages/gone')):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('WROTE')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    assert result.ok, result.error
    assert "WROTE" not in result.stdout and result.stdout.count("Error") == 4
    assert _tree_files(wasm_packages.tree) == before


async def test_a_package_that_needs_what_wasm_lacks_says_so(
    wasm_ready: None, pure_wheelhouse: Path
) -> None:
    grant = resolve_packages(["tinyctypes"], target="wasm", wheelhouse=pure_wheelhouse)
    result = await CodeAct(backend="wasm", packages=grant, limits=LIMITS).execute(
        "import tinyctypes\ntinyctypes.load()"
    )
    assert not result.ok and result.error is not None
    assert "a granted package needs 'ctypes'" in result.error.traceback
    assert "backend='jail'" in result.error.traceback


# -- jail: numpy and pandas from this environment ---------------------------------------------
async def test_numpy_and_pandas_compute_a_mean_in_the_jail(jail_packages: Any) -> None:
    codeact = CodeAct(backend="jail", packages=jail_packages, limits=LIMITS)
    result = await codeact.execute(
        "import numpy as np\nimport pandas as pd\n"
        "frame = pd.DataFrame({'city': ['a', 'b', 'a'], 'temp': [10.0, 20.0, 30.0]})\n"
        "print(float(np.mean([1, 2, 3, 4])))\n"
        "frame.groupby('city')['temp'].mean().to_dict()"
    )
    assert result.ok, result.error
    assert result.stdout == "2.5\n"
    assert result.value == {"a": 20.0, "b": 20.0}
    assert any(p.startswith("numpy==") for p in result.packages)
    assert any(p.startswith("pandas==") for p in result.packages)


async def test_a_package_not_granted_cannot_be_imported_in_the_jail(
    jail_packages: Any, pure_wheelhouse: Path
) -> None:
    codeact = CodeAct(backend="jail", packages=jail_packages, limits=LIMITS)
    # Installed in this very Python, but not granted: neither importable nor readable.
    result = await codeact.execute("import click")
    assert not result.ok and result.error is not None
    assert result.error.type == "ModuleNotFoundError"
    assert "numpy" in result.error.message and "pandas" in result.error.message
    assert "child.py" not in result.error.traceback  # no host path of codeact's own files
    plain = await CodeAct(backend="jail", limits=LIMITS).execute("import numpy")
    assert not plain.ok and plain.error is not None and plain.error.type == "ModuleNotFoundError"


async def test_the_package_tree_is_read_only_in_the_jail(jail_packages: Any) -> None:
    init = Path(jail_packages.tree) / "numpy" / "__init__.py"
    before = init.read_bytes()
    codeact = CodeAct(backend="jail", packages=jail_packages, limits=LIMITS)
    result = await codeact.execute(
        "import os, numpy\n"
        "root = os.path.dirname(numpy.__file__)\n"
        "for attempt in (lambda: open(numpy.__file__, 'a').write('x = 1'),\n"
        "                lambda: open(os.path.join(root, 'evil.py'), 'w').write('x = 1'),\n"
        "                lambda: os.remove(numpy.__file__),\n"
        "                lambda: os.chmod(numpy.__file__, 0o777)):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('WROTE')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    assert result.ok, result.error
    assert "WROTE" not in result.stdout and result.stdout.count("Error") == 4
    assert init.read_bytes() == before
    assert not (init.parent / "evil.py").exists()


async def test_a_package_that_needs_what_the_jail_forbids_says_so(pure_wheelhouse: Path) -> None:
    _jail_or_skip()
    grant = resolve_packages(["tinyfmt"], target="jail", wheelhouse=pure_wheelhouse)
    codeact = CodeAct(backend="jail", packages=grant, limits=LIMITS)
    assert (await codeact.execute("import tinyfmt\ntinyfmt.show([1, 3])")).value == "2.0"
    ctypes_grant = resolve_packages(["tinyctypes"], target="jail", wheelhouse=pure_wheelhouse)
    codeact = CodeAct(backend="jail", packages=ctypes_grant, limits=LIMITS)
    result = await codeact.execute("import tinyctypes\ntinyctypes.load()")
    assert not result.ok and result.error is not None
    assert "No module named 'ctypes' in the sandbox: it would call C functions directly" in (
        result.error.message
    )


def test_fetching_packages_says_so_while_pip_works(pure_wheelhouse: Path) -> None:
    """pip took 11-15 s (numpy, pandas from a mirror) with nothing shown, in the library and
    in `codeact exec --package`: the fetch is said, as the guest's build is."""
    from codeact._progress import progress_to

    said: list[str] = []
    with progress_to(said.append):
        resolve_packages(["tinycalc==1.0"], target="jail", wheelhouse=pure_wheelhouse, refresh=True)
    assert said[0] == "fetching tinycalc==1.0 for the jail sandbox with pip (once per set)..."
    assert said[-1].startswith("packages ready in ")
