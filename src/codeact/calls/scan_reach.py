"""What the plan scan (`codeact.calls.scan`) treats as a way to reach a tool without naming it.

A program can call a tool without writing its name at a call site in many ways: run code from
text (``exec``; but also ``cProfile.run``, ``timeit``, ``doctest``, ``trace``, string
annotations read by ``typing.get_type_hints`` or ``functools.singledispatch``), resolve a
dotted name (``logging.config.dictConfig``, ``unittest.mock.patch``, ``pickle``/``shelve``),
or reach the interpreter's modules through another module's attributes (``os.sys.modules``,
``dataclasses.inspect``). A list of such ways is never complete, so the scan works from an
allowlist instead:

* an import of a module that is not in `PLAIN_MODULES` makes the plan dynamic. Those modules
  run no code from text and resolve no names; what their public attributes lead to is checked
  by ``tests/unit/test_scan_reach.py`` (no module outside the list, no ``eval``-like builtin).
  ``dataclasses`` is not one: it pastes field names, strings a program may build, into source
  it ``exec``s in the class's module, the program's own namespace where tools live;
* an attribute, an imported name or a plain name in `REACHING_NAMES` makes it dynamic too: the
  builtins that reach objects by a string, the functions of plain modules that evaluate
  annotations, those in `NAME_LOOKUPS` that read or write attributes named by a string, and
  the name of every standard-library module outside the list (``os.sys``,
  ``asyncio.inspect``: a plain module's attribute that is such a module is a way out).

A false alarm costs the program's author only convenience: the calls the up-front approval
would have covered are asked one by one.
"""

from __future__ import annotations

import sys

__all__ = [
    "EVALUATORS",
    "NAME_LOOKUPS",
    "OPAQUE_BUILTINS",
    "PLAIN_MODULES",
    "PLAIN_PACKAGES",
    "REACHING_NAMES",
    "is_plain_module",
]

#: Modules a program may import without making its plan dynamic (exact dotted names).
PLAIN_MODULES = frozenset(
    {
        "abc",
        "array",
        "asyncio",
        "base64",
        "binascii",
        "bisect",
        "calendar",
        "cmath",
        "collections",
        "collections.abc",
        "contextlib",
        "copy",
        "csv",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "errno",
        "fnmatch",
        "fractions",
        "functools",
        "graphlib",
        "hashlib",
        "heapq",
        "hmac",
        "html",
        "io",
        "ipaddress",
        "itertools",
        "json",
        "math",
        "numbers",
        "os",
        "os.path",
        "pathlib",
        "pprint",
        "random",
        "re",
        "secrets",
        "shlex",
        "stat",
        "statistics",
        "struct",
        "textwrap",
        "time",
        "tomllib",
        "typing",
        "unicodedata",
        "urllib",
        "urllib.parse",
        "uuid",
        "zlib",
        "zoneinfo",
    }
)

#: Packages whose public submodules are plain too (checked by the same tests).
PLAIN_PACKAGES = frozenset({"asyncio", "collections", "html", "json", "urllib"})

#: Builtins that reach any object by a string or through the interpreter's own state.
OPAQUE_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "dir",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "__builtins__",
        "__loader__",
        "__spec__",
        "breakpoint",
        "help",
    }
)

#: Functions of plain modules that evaluate text (string annotations) or resolve names.
EVALUATORS = frozenset(
    {
        "get_type_hints",
        "get_annotations",
        "evaluate_forward_ref",
        "ForwardRef",
        "call_evaluate_function",
        "call_annotate_function",
        "singledispatch",
        "singledispatchmethod",
        "modules",
    }
)

#: Functions and methods of plain modules that read or write attributes named by a string
#: (counted as attributes and imported names only: a program's own ``evaluate`` is harmless).
#: ``functools.wraps``/``update_wrapper`` copy the attributes their ``assigned`` and ``updated``
#: name and a module's whole namespace (``wraps(os)``: ``os.sys``, from it ``__main__``'s);
#: ``ForwardRef.evaluate`` (3.14) runs an annotation's text; ``contextlib.redirect_stdout``
#: gets and sets the attribute of ``sys`` its ``_stream`` names (a subclass picks
#: ``"modules"``); ``enum.global_enum`` writes members into the module named by the class's
#: ``__module__`` (``builtins``, the runner's).
NAME_LOOKUPS = frozenset(
    {
        "wraps",
        "update_wrapper",
        "evaluate",
        "redirect_stdout",
        "redirect_stderr",
        "global_enum",
    }
)

#: Names under which a plain module keeps another module (``enum.bltns`` is ``builtins``).
_MODULE_ALIASES = frozenset({"bltns", "stdlib_re"})


#: Words common as attributes of a program's own objects (``e.errno``, ``user.email``) that
#: are also names of modules no plain module holds under that name (the walk in
#: ``tests/escapes/test_approval_escapes.py`` checks it in each sandbox's Python): reading
#: them keeps a plan complete.
_COMMON_WORDS = frozenset({"code", "profile", "queue", "select", "site", "test"})


def _stdlib_names() -> frozenset[str]:
    names = set(getattr(sys, "stdlib_module_names", ()))
    # Names this process may not list (an older Python) but the sandbox's 3.14 has.
    names |= {"annotationlib", "sys", "builtins", "importlib", "inspect", "types", "gc"}
    plain_tops = {m for m in PLAIN_MODULES if "." not in m}
    return frozenset(
        n for n in names if n not in plain_tops and n not in _COMMON_WORDS and not n.startswith("_")
    )


#: Attribute names and imported names that may lead to a tool unnamed (as plain names, only
#: `OPAQUE_BUILTINS` and `EVALUATORS` count: a variable may well be called `email` or `code`).
REACHING_NAMES = OPAQUE_BUILTINS | EVALUATORS | NAME_LOOKUPS | _MODULE_ALIASES | _stdlib_names()


def is_plain_module(module: str) -> bool:
    """Whether importing `module` (dotted name) keeps a plan complete: a plain module, or a
    public submodule of a plain package (``json.decoder``, ``asyncio.tasks``)."""
    if module in PLAIN_MODULES:
        return True
    parts = module.split(".")
    return parts[0] in PLAIN_PACKAGES and not any(p.startswith("_") for p in parts)
