"""Escape attempts with packages granted: the package tree is one more read-only grant, never
a way to write, to read the host, or to import what was not granted.

Each attempt runs with a small pure-Python package set (tinyfmt, tinycalc) granted read-only;
after it, `attempt` checks the host's canaries as for every escape attempt, and these tests
check that the installed tree is byte for byte what it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeact.policy.packages import PackageTarget
from codeact.runtime.package_bytecode import ensure_guest_bytecode
from codeact.sandbox.packages import resolve_packages

PACKAGE_ATTEMPTS = {
    "write_into_the_package_tree": """
import os, tinyfmt, tinycalc
root = os.path.dirname(tinyfmt.__file__)
for path, mode in [(tinyfmt.__file__, "a"), (tinycalc.__file__, "w"),
                   (os.path.join(root, "evil.py"), "w"),
                   (os.path.join(root, "tinycalc", "__pycache__", "x.pyc"), "w")]:
    try:
        with open(path, mode) as f:
            f.write("import os\\n")
        print("WROTE", path)
    except Exception as e:
        print("refused", path, type(e).__name__)
for action in (lambda: os.remove(tinyfmt.__file__),
               lambda: os.rename(tinycalc.__file__, tinycalc.__file__ + ".bak"),
               lambda: os.mkdir(os.path.join(root, "newdir")),
               lambda: os.symlink("@CANARY_FILE@", os.path.join(root, "link.py"))):
    try:
        action()
        print("WROTE by", action)
    except Exception as e:
        print("refused", type(e).__name__)
""",
    "climb_out_of_the_package_tree": """
import os, tinyfmt
root = os.path.dirname(tinyfmt.__file__)
for path in [os.path.join(root, ".."), os.path.join(root, "..", ".."),
             os.path.join(root, "..", "wheels"), os.path.join(root, "..", "lock.json")]:
    try:
        print("LISTED", path, os.listdir(path))
    except Exception as e:
        print("refused", path, type(e).__name__)
for path in ["@CANARY_FILE@", os.path.join(root, "..", "..", "..", "..", "@CANARY_FILE@")]:
    try:
        print("READ", open(path).read())
    except Exception as e:
        print("refused", type(e).__name__)
""",
    "import_what_was_not_granted": """
import sys
for path in ["@CANARY_DIR@", "."]:
    sys.path.insert(0, path)
for name in ["host_secret_module", "click", "pytest", "codeact"]:
    try:
        module = __import__(name)
        print("IMPORTED", name, getattr(module, "SECRET", ""))
    except Exception as e:
        print("refused", name, type(e).__name__)
""",
    "swap_a_granted_module_for_the_hosts": """
import sys, importlib, tinycalc
sys.modules.pop("tinycalc")
sys.path.insert(0, "@CANARY_DIR@")
try:
    import importlib.util
    spec = importlib.util.spec_from_file_location("tinycalc", "@CANARY_DIR@/host_secret_module.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("IMPORTED", module.SECRET)
except Exception as e:
    print("refused", type(e).__name__)
""",
}


@pytest.fixture
def granted(backend_name: str, pure_wheelhouse: Path) -> Any:
    if backend_name not in ("wasm", "jail"):
        pytest.skip(f"{backend_name} grants no packages")
    target: PackageTarget = "wasm" if backend_name == "wasm" else "jail"
    grant = resolve_packages(["tinyfmt"], target=target, wheelhouse=pure_wheelhouse)
    if backend_name == "wasm":
        # Done once per tree when a CodeAct is first given it: before the tree's snapshot, so
        # that only what a program does can change it (on a fresh cache it had not run yet).
        ensure_guest_bytecode(grant)
    return grant


def _tree(grant: Any) -> dict[str, bytes]:
    """Every entry of the installed tree: a file's bytes, or a mark for a folder or link."""
    tree = Path(grant.tree).rglob("*")
    return {str(p): p.read_bytes() if p.is_file() else b"<not a file>" for p in tree}


@pytest.mark.parametrize("name", list(PACKAGE_ATTEMPTS))
async def test_granted_packages_are_no_way_out(
    attempt: Callable[..., Any], granted: Any, name: str
) -> None:
    before = _tree(granted)
    result = await attempt(PACKAGE_ATTEMPTS[name], packages=granted)
    out = result.stdout
    claims = [ln for ln in out.splitlines() if ln.split(" ", 1)[0] in ("WROTE", "READ", "IMPORTED")]
    assert claims == [], out
    # Listing inside the tree's own folder is what a read-only grant allows; nothing above it.
    for line in out.splitlines():
        if line.startswith("LISTED"):
            assert "wheels" not in line and "lock.json" not in line and "requests" not in line
    assert _tree(granted) == before
    assert not {"evil.py", "newdir", "link.py"} & {Path(p).name for p in _tree(granted)}
