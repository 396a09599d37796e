"""DESIGN.md's layers: a module never imports from a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import codeact

ROOT = Path(codeact.__file__).parent

# Layer of each top-level part of the package (DESIGN.md, Architecture).
LAYERS = {
    "errors": 0,
    "_paths": 0,
    "_lifecycle": 0,
    "_loop_lock": 0,
    "_display": 0,
    "_progress": 0,
    "_nesting": 0,
    "_extras": 0,
    "tools": 1,
    "policy": 1,
    "bridge.protocol": 1,
    "bridge.call_record": 1,
    "bridge.report_json": 1,
    "bridge.stops": 1,
    "workloads": 1,
    "sandbox": 2,
    "chat": 2,
    "bridge.host": 3,
    "bridge.http_egress": 3,
    "bridge.http_fetch": 3,
    "bridge.dns": 3,
    "bridge.clock": 3,
    "bridge.output": 3,
    "calls": 3,
    "runtime": 3,
    "agent": 4,
    "integrations": 5,
    "bench": 5,
    "ray": 5,
    "testing": 5,
    "cli": 6,
}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for n in (2, 1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def imported_modules(path: Path, package: str) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("codeact"):
                target = target.removeprefix("codeact").lstrip(".")
            elif node.level == 0:
                continue
            found.append(target)
            for alias in node.names:
                found.append(f"{target}.{alias.name}" if target else alias.name)
        elif isinstance(node, ast.Import):
            found += [
                a.name.removeprefix("codeact.") for a in node.names if a.name.startswith("codeact.")
            ]
    return found


def test_no_module_imports_a_higher_layer() -> None:
    violations = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        if "guest" in rel.parts or "guest_runtime" in rel.parts:
            continue
        module = ".".join(rel.parts).removesuffix(".__init__")
        own = layer_of(module)
        if own is None:
            continue
        package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else module
        for target in imported_modules(path, package):
            other = layer_of(target)
            if other is not None and other > own:
                violations.append(f"{module} (L{own}) imports {target} (L{other})")
    assert violations == []


def test_the_call_pipeline_does_not_import_the_bridge() -> None:
    """`calls` serves direct calls with no bridge: the bridge uses it, never the reverse (the
    record types of `bridge.protocol`, layer 1, are shared by both)."""
    violations = []
    for path in (ROOT / "calls").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts)
        for target in imported_modules(path, package):
            if target.startswith("bridge") and not target.startswith("bridge.protocol"):
                violations.append(f"{'.'.join(rel.parts)} imports {target}")
    assert violations == []
