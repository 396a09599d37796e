"""The plan scan's allowlist (`codeact.calls.scan_reach`): programs that reach a gated tool
without a call site the scan can count make the plan incomplete; plain imports do not. (What
a plain module's attributes lead to is walked in every sandbox's own Python by
``tests/escapes/test_approval_escapes.py``.)"""

from __future__ import annotations

import pytest

from codeact.calls.scan import scan_tool_calls

# Each calls send_email without a call site the scan can count: through a module that runs
# text or resolves names, or through a plain module's attribute that is another module.
HIDDEN = {
    "get_type_hints": (
        "import typing\ndef f(x: \"send_email(to='evil')\"): pass\ntyping.get_type_hints(f)"
    ),
    "from_typing": (
        "from typing import get_type_hints as g\ndef f(x: \"send_email(to='evil')\"): pass\ng(f)"
    ),
    "singledispatch": (
        "import functools\n@functools.singledispatch\ndef f(x): pass\n"
        "@f.register\ndef _(x: \"send_email(to='evil')\"): pass"
    ),
    "cprofile": "import cProfile\ncProfile.run(\"send_email(to='evil')\")",
    "timeit": (
        "import timeit\ntimeit.timeit('import codeact_runner as r; r.call_tool(\"send_email\")')"
    ),
    "doctest": "'''\n>>> send_email(to='evil')\n'''\nimport doctest\ndoctest.testmod()",
    "trace": "import trace\ntrace.Trace().run(\"send_email(to='evil')\")",
    "logging_config": (
        "import logging.config\nlogging.config.dictConfig({'version': 1, 'handlers': "
        "{'h': {'()': 'codeact_runner.call_tool', 'name': 'send_email'}}})"
    ),
    "shelve": "import shelve\nshelve.open('/output/s')['x']",
    "unittest_mock": "import unittest.mock\nunittest.mock.patch('codeact_runner.call_tool')",
    "os_sys": "import os\nos.sys.modules['builtins'].eval(\"send_email(to='evil')\")",
    "from_os_import_sys": "from os import sys\nsys.modules['builtins'].eval('x')",
    "dataclasses_inspect": "import dataclasses\ndataclasses.inspect.currentframe()",
    "asyncio_sys": "import asyncio\nasyncio.sys.modules['builtins'].eval('x')",
    "zipimport": "import zipimport\nzipimport.zipimporter('/output/m.zip').load_module('m')",
    # Data turned into names: dataclasses execs field names in the class's module; wraps and
    # update_wrapper copy attributes by name (a module's namespace whole); ForwardRef.evaluate
    # runs text; redirect_stdout's _stream names an attribute of sys; global_enum writes into
    # the module a string names.
    "dataclasses_field_names": (
        "import dataclasses\nN = \"a or send_email(to='evil')\"\n"
        "X = dataclasses.dataclass(type('X', (), {'__annotations__': {N: int}, 'a': 0}))\n"
        "X() == X()"
    ),
    "from_dataclasses": "from dataclasses import make_dataclass\nmake_dataclass('X', ['a'])",
    "wraps_module": (
        "import functools, os\nclass W:\n    def __getattribute__(self, name):\n"
        "        return D\nD = {}\nfunctools.wraps(os)(W())\nD['sys']"
    ),
    "update_wrapper_updated": (
        "import functools\nD = {}\nclass W:\n    __globals__ = D\ndef f(): pass\n"
        "functools.update_wrapper(W(), f, assigned=(), updated=('__globals__',))\n"
        "D['send_email'](to='evil')"
    ),
    "from_functools_import_wraps": "from functools import wraps as w\nw(print)",
    "forward_ref_evaluate": (
        "import typing\nclass C: pass\n"
        "typing.get_args(typing.List[\"send_email(to='evil')\"])[0].evaluate(owner=C)"
    ),
    "redirect_stdout_stream": (
        "import contextlib\nL = []\nclass R(contextlib.redirect_stdout):\n"
        "    _stream = 'modules'\n    _old_targets = L\n    _new_target = None\n"
        "    def __init__(self):\n        pass\nwith R():\n    L[0]['__main__']"
    ),
    "global_enum": ("import enum\nenum.global_enum(enum.Enum('E', {'len': 1}, module='builtins'))"),
    "annotationlib": (
        "import annotationlib\ndef f(x: \"send_email(to='evil')\"): pass\n"
        "annotationlib.get_annotations(f, eval_str=True)"
    ),
}


@pytest.mark.parametrize("code", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_calls_make_the_plan_incomplete(code: str) -> None:
    plan = scan_tool_calls(f"{code}\nsend_email(to='ok')\n", ["send_email"], gated=["send_email"])
    assert plan.dynamic and not plan.complete, plan


def test_plain_imports_keep_a_plan_complete() -> None:
    code = (
        "import json, math, asyncio, re\nfrom datetime import date\nfrom typing import Any\n"
        "import os.path\nrows: list[Any] = json.loads('[1]')\n"
        "import collections, typing, enum\nP = collections.namedtuple('P', 'x y')\n"
        "class Q(typing.NamedTuple):\n    x: 'int'\nclass E(enum.Enum):\n    A = 1\n"
        "try:\n    open('/x')\nexcept OSError as e:\n    print(e.errno, e.code if 0 else 0)\n"
        "send_email(to=os.path.join('a', 'b'))\n"
        "asyncio.run(call_tool_async('send_email', to=str(math.pi)))\n"
    )
    plan = scan_tool_calls(code, ["send_email"], gated=["send_email"])
    assert plan.complete and plan.counts() == {"send_email": 2}, plan
