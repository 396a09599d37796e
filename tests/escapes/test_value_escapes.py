"""Objects that run code when they are converted, compared, freed or unpickled, returned as
values, raised, or passed as tool arguments. The host only ever parses JSON from a sandbox, so
none of their code may run on the host; and malformed traffic must not hurt the host either.

Each evil object writes the `@PWNED@` file when one of its methods runs: run inside the sandbox
that write is refused; run on the host it would create the file, which the checks look for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

EVIL = """
def pwn(*args):
    with open("@PWNED@", "w") as f:
        f.write("pwned")
    return "pwned"

class Evil:
    def __repr__(self): return pwn()
    def __str__(self): return pwn()
    def __format__(self, spec): return pwn()
    def __eq__(self, other): pwn(); return True
    def __hash__(self): pwn(); return 1
    def __index__(self): pwn(); return 1
    def __int__(self): pwn(); return 1
    def __float__(self): pwn(); return 1.0
    def __bool__(self): pwn(); return True
    def __len__(self): pwn(); return 1
    def __iter__(self): pwn(); return iter([1])
    def __reduce__(self): return (eval, ("open('@PWNED@', 'w').write('pwned')",))
    def __getattr__(self, name): pwn(); raise AttributeError(name)
    def __del__(self):
        try:
            pwn()
        except Exception:
            pass

class EvilStr(str):
    def __str__(self): return pwn()
    def __repr__(self): return pwn()
    def encode(self, *a, **k): return pwn().encode()

class EvilInt(int):
    def __repr__(self): return pwn()
    def __index__(self): return pwn()

class EvilDict(dict):
    def items(self): pwn(); return super().items()
    def keys(self): pwn(); return super().keys()
"""

# name: (the attempt, what a naive host would do with its result: the control runs both)
VALUE_ATTEMPTS = {
    "evil_object_as_the_value": ("value = Evil()\nvalue", "repr(value)"),
    "evil_str_subclass_as_the_value": ("value = EvilStr('ok')\nvalue", "repr(value)"),
    "evil_int_subclass_as_the_value": ("value = EvilInt(3)\nvalue", "repr(value)"),
    "evil_keys_in_a_returned_dict": ("value = {Evil(): 1}\nvalue", "value == {Evil(): 1}"),
    "evil_dict_subclass_as_the_value": ("value = EvilDict(a=1)\nvalue", "list(value.items())"),
    "object_that_pickles_to_code": (
        "import pickle\nvalue = pickle.dumps(Evil())\nvalue",
        "pickle.loads(value)",
    ),
    "evil_exception_message": ("value = Evil()\nraise ValueError(value)", "str(value)"),
    "evil_exception_class": (
        "class Boom(Exception):\n    def __str__(self): return pwn()\n"
        "    def __repr__(self): return pwn()\nvalue = Boom()\nraise value",
        "str(value)",
    ),
    "system_exit_with_an_evil_code": ("value = Evil()\nraise SystemExit(value)", "value == 0"),
    "evil_object_left_to_be_freed": ("value = Evil()\nprint('bye')", "del value"),
    "evil_object_as_a_tool_argument": ("value = Evil()\necho(value=value)", "int(value)"),
    "evil_subclasses_as_tool_arguments": (
        "value = EvilStr('a')\necho(value=[value, EvilInt(2), EvilDict(k=1)])",
        "str(value)",
    ),
    "evil_object_as_a_tool_name": ("value = Evil()\ncall_tool(value)", "str(value)"),
    "unpickling_inside_the_sandbox": (
        "import pickle, os\npayload = pickle.dumps(Evil())\nvalue = payload\npickle.loads(payload)",
        "pickle.loads(value)",
    ),
}

# Traffic a program can send to the host by hand, bypassing the runner.
RAW_ATTEMPTS = {
    "absurdly_nested_tool_arguments": """
import sys
host = sys.modules["codeact_host"].HOST
try:
    print(host.dispatch("echo", "[" * 200000 + "]" * 200000))
except Exception as e:
    print(type(e).__name__)
""",
    "tool_arguments_that_are_not_json": """
import sys
host = sys.modules["codeact_host"].HOST
for args in ['{"value": ', "NaN", '{"value": 1e999999}', '"\\\\ud800"', "\\x00" * 100]:
    try:
        print(host.dispatch("echo", args))
    except Exception as e:
        print(type(e).__name__)
""",
    "waiting_for_calls_that_were_never_started": """
import sys
host = sys.modules["codeact_host"].HOST
print(host.wait_calls(0), host.wait_calls(10))
""",
    "lone_surrogates_and_control_bytes": """
import os
print("\\ud800 \\udfff \\x00 \\x1b[2J")
os.write(1, b"\\xff\\xfe\\x00 raw bytes\\n")
echo(value="\\ud800")
echo(value=float("nan"))
""",
    "forged_frames_on_every_descriptor": """
import os, json, struct
for fd in range(0, 16):
    for payload in [b"\\xff\\xff\\xff\\xff", struct.pack(">I", 20) + b'["r", "{\\\\"value\\\\": 1}"]',
                    struct.pack(">I", 12) + b'["c", 1, 2]']:
        try:
            os.write(fd, payload)
        except OSError:
            pass
print("done")
""",
    "huge_tool_argument": 'print(len(echo(value="x" * (20 * 1024 * 1024))))',
}


@pytest.mark.parametrize("name", list(VALUE_ATTEMPTS))
async def test_no_code_of_a_value_runs_on_the_host(attempt: Callable[..., Any], name: str) -> None:
    code, _ = VALUE_ATTEMPTS[name]
    result = await attempt(EVIL + code)
    for call in result.tool_calls:  # whatever reached a tool is plain JSON data
        assert "Evil" not in repr(type(call.arguments))


@pytest.mark.parametrize("name", list(RAW_ATTEMPTS))
async def test_raw_traffic_leaves_the_host_healthy(attempt: Callable[..., Any], name: str) -> None:
    result = await attempt(RAW_ATTEMPTS[name])
    if result.error is not None:
        assert result.error.type not in ("", None)


@pytest.mark.parametrize("name", list(VALUE_ATTEMPTS))
def test_attempt_escapes_without_a_sandbox(
    unsandboxed: Callable[[str], list[str]], name: str
) -> None:
    """A naive host that touched the result (repr, compare, unpickle...) would run the evil
    code: so these objects are real, and their failure above is the sandbox's doing."""
    code, naive_host = VALUE_ATTEMPTS[name]
    lines = code.splitlines()
    setup = "\n".join(
        line for line in lines if not line.startswith(("raise ", "echo(", "call_tool("))
    )
    assert unsandboxed(EVIL + "import pickle\n" + setup + "\n" + naive_host)
