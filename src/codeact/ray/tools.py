"""How tools reach the workers: shipped by Ray, or named and imported where they run.

A pool's `tools` may mix three kinds of entries:

* a function or `codeact.Tool`: Ray pickles it (cloudpickle) into each actor. A function
  defined in ``__main__`` or a notebook travels by value; one from an importable module
  travels by reference, so that module must be importable on the workers (installed there,
  or shipped with ``runtime_env={"py_modules": [...]}`` / ``{"working_dir": ...}``);
* ``"package.module:attr"``: imported on each worker when its actor starts. `attr` may be a
  function, a `Tool`, or a list of them (``"codeact.workloads.order_totals:TOOLS"``). Use
  this for tools that hold clients or credentials: they are built on the worker, from the
  worker's environment, and never pickled;
* a list of the above.

`check_tools` runs on the driver: it turns functions into `Tool` objects there, so their
schema is built from the driver's annotations (a function shipped by value takes only the
globals its code uses, not the names its annotations mention); references are not imported
there. `resolve_tools` runs on the worker.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from ..errors import ConfigurationError
from ..tools import Tool, tool

__all__ = ["ToolSpec", "check_tools", "resolve_tools"]

#: One entry of a pool's `tools`.
ToolSpec: TypeAlias = "Tool | Callable[..., Any] | str"

_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def check_tools(tools: Iterable[ToolSpec]) -> list[ToolSpec]:
    """The pool's tools as a list, each a callable or a well-formed ``"module:attr"``."""
    if isinstance(tools, (str, bytes)) or callable(tools):
        tools = [tools]
    checked: list[ToolSpec] = []
    for entry in tools:
        if isinstance(entry, str):
            if not _REFERENCE.match(entry):
                raise ConfigurationError(
                    f"tool reference {entry!r} is not 'package.module:attr' "
                    "(e.g. 'myapp.tools:search', imported on each worker)"
                )
        elif isinstance(entry, Tool):
            pass
        elif callable(entry):
            entry = tool(entry)
        else:
            raise ConfigurationError(
                f"a pool's tools are functions, codeact.Tool objects or 'module:attr' "
                f"strings; got {type(entry).__name__}"
            )
        checked.append(entry)
    return checked


def resolve_tools(specs: Iterable[ToolSpec]) -> list[Tool | Callable[..., Any]]:
    """On the worker: import every ``"module:attr"`` and flatten lists of tools."""
    resolved: list[Tool | Callable[..., Any]] = []
    for spec in specs:
        if not isinstance(spec, str):
            resolved.append(spec)
            continue
        found = _import_reference(spec)
        items = list(found) if isinstance(found, (list, tuple)) else [found]
        for item in items:
            if not callable(item):
                raise ConfigurationError(
                    f"tool reference {spec!r} names a {type(item).__name__}, "
                    "not a function, a Tool or a list of them"
                )
            resolved.append(item)
    return resolved


def _import_reference(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"tool reference {spec!r}: module {module_name!r} cannot be imported on this "
            f"worker ({exc}); install it there or ship it with "
            "runtime_env={'py_modules': [...]}"
        ) from exc
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(
                f"tool reference {spec!r}: {module_name} has no attribute {attr!r}"
            ) from None
    return found
