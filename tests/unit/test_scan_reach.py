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
        "try:\n    open('/x')\nexcept OSError as e:\n    print(e.errno, e.code if 0 else 0)\n"
        "send_email(to=os.path.join('a', 'b'))\n"
        "asyncio.run(call_tool_async('send_email', to=str(math.pi)))\n"
    )
    plan = scan_tool_calls(code, ["send_email"], gated=["send_email"])
    assert plan.complete and plan.counts() == {"send_email": 2}, plan
