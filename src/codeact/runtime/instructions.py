"""What the model is told: the `execute_code` tool's description and the system instructions.

Measured with a 1.5B model (DESIGN.md, Models): tools listed as typed signatures of functions
that already exist (not as ``def`` stubs, which it copies into its program as mocks), and one
worked example of a *different* task, including what to reply once the program printed the
answer, are what make small models write one correct program and then state its result.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence

from ..policy.mounts import Mount
from ..policy.network import AllowedDomain
from ..policy.outputs import OutputLimits
from ..policy.packages import PackageGrant
from ..tools import Tool

__all__ = [
    "EXECUTE_CODE_PARAMETERS",
    "PERSISTENT_STATE",
    "describe_execute_code",
    "describe_grants",
    "describe_packages",
    "describe_tools",
    "dict_shape",
    "instructions",
]

#: JSON schema of the execute_code tool's arguments.
EXECUTE_CODE_PARAMETERS = {
    "type": "object",
    "properties": {
        "code": {
            "type": "string",
            "description": "A complete Python program. Print what you need to see; "
            "the value of the last line is returned too.",
        }
    },
    "required": ["code"],
    "additionalProperties": False,
}

_EXAMPLE = """\
Example, for a different task ("Shipping cost of every store's parcels, highest first"), with
tools list_stores() -> list[{"id": int, "name": str, "country": str}],
get_parcels(store_id) -> list[{"weight_kg": float}] and get_rate(country) -> float:

```python
rows = []
for store in list_stores():
    rate = get_rate(country=store["country"])  # a field of the store: look it up per store
    cost = 0.0
    for parcel in get_parcels(store_id=store["id"]):
        cost += parcel["weight_kg"] * rate
    rows.append((store["name"], round(cost, 2)))
rows.sort(key=lambda row: row[1], reverse=True)
for name, cost in rows:
    print(f"{name}: {cost:.2f}")
print(f"total: {sum(cost for _, cost in rows):.2f}")
```

It printed "North: 12.50", "South: 7.25" and "total: 19.75" on three lines, so the reply is:
North: 12.50
South: 7.25
total: 19.75"""


#: The lines the instructions' example printed (its last three): a reply that states them
#: copies the example.
EXAMPLE_OUTPUT = tuple(_EXAMPLE.splitlines()[-3:])


def describe_tools(tools: Iterable[Tool], *, json_schemas: Collection[str] = ()) -> str:
    """Every tool on one line (typed signature: description), its parameters below it, then
    the keys of the structured types it returns or takes. Tools named in `json_schemas` also
    show the full JSON schema of their arguments.

    Not as ``def`` stubs: a 1.5B model copies stubs into its program as mock functions that
    shadow the real tools (measured: 5 of 6 programs did), and never does with this form.
    """
    lines: list[str] = []
    definitions: dict[str, str] = {}
    for tool in tools:
        doc = " ".join((tool.description or f"Call the {tool.name} tool.").split())
        doc += f" {tool.arguments_note}" if tool.arguments_note else ""
        lines.append(f"- {tool.signature}: {doc}")
        details = _param_lines(tool)
        if tool.returns_doc:
            details.append(f"Returns: {tool.returns_doc}")
        if tool.name in json_schemas:
            details.append(f"Arguments (JSON schema):\n{json.dumps(tool.parameters, indent=2)}")
        if tool.approval_mode == "always_require":
            details.append(
                "Each call waits for a person's approval; if refused it raises ToolDenied."
            )
        lines += [f"    {line}" for detail in details for line in detail.splitlines()]
        for name, text in tool.definitions.items():
            definitions.setdefault(name, text)
    if definitions:
        lines += ["", "The structured types are dicts with these keys:"]
        lines += [f"  {dict_shape(text)}" for text in definitions.values()]
    return "\n".join(lines)


def dict_shape(definition: str) -> str:
    """``class User(TypedDict):\\n    id: int`` -> ``User = {"id": int}`` (comments kept).

    A key the dict may lack shows as ``"email": NotRequired[str]``, as in the class; in a
    ``total=False`` class that is every key not marked ``Required[...]``."""
    head, *fields = definition.splitlines()
    if not head.startswith("class "):
        return definition  # TypedDict's functional form (keys that are no Python names)
    name = head.removeprefix("class ").split("(", 1)[0].rstrip(":")
    total = "total=False" not in head
    items, notes = [], []
    for line in fields:
        # "  # " starts a field's description: a lone '#' may be in a Literal's value
        field, _, comment = line.strip().partition("  # ")
        key, sep, annotation = field.partition(":")
        if not sep:
            return definition  # not the shape we know: show it as it is
        annotation = annotation.strip()
        if annotation.startswith("Required[") and annotation.endswith("]"):
            annotation = annotation.removeprefix("Required[")[:-1]
        elif not total and not annotation.startswith("NotRequired["):
            annotation = f"NotRequired[{annotation}]"
        items.append(f'"{key.strip()}": {annotation}')
        if comment.strip():
            notes.append(f"{key.strip()}: {comment.strip()}")
    shape = f"{name} = {{{', '.join(items)}}}"
    return shape + (f"  ({'; '.join(notes)})" if notes else "")


def _param_lines(tool: Tool) -> list[str]:
    props = tool.parameters.get("properties", {})
    return [
        f"{name}: {spec['description']}"
        for name, spec in props.items()
        if isinstance(spec, dict) and spec.get("description")
    ]


#: What the model is told when calls share a session's state (and only then).
PERSISTENT_STATE = (
    "Each call runs in a fresh sandbox, but when a program finishes, its top-level variables, "
    "functions, classes and imports are kept for the next call: reuse them instead of fetching "
    "the data again. A program that fails keeps nothing of what it did; values that cannot be "
    "kept (open files, generators, lambdas) are dropped, and the result says which."
)


def describe_execute_code(
    tools: Sequence[Tool],
    *,
    grants: Sequence[str] = (),
    json_schemas: Collection[str] = (),
    returns_value: bool = True,
    persistent: bool = False,
) -> str:
    """The `execute_code` tool's description: what the sandbox is and which functions exist.

    `returns_value` False: the caller hands back only what the program printed, so the
    description says to print (the Agent Framework provider's reference result shape).
    `persistent`: the calls share a session's state (`CodeAct.session`)."""
    back = (
        "what it printed and the value of its last line."
        if returns_value
        else "what it printed (print what you need: the value of the last line is not returned)."
    )
    lines = [
        "Run a Python program in a fresh, isolated sandbox (CPython 3.14 with the standard "
        f"library) and get back {back}",
    ]
    if tools:
        lines += [
            "",
            "These functions already exist in the sandbox. Call them directly; never define, "
            "import or mock them, and never invent their results:",
            "",
            describe_tools(tools, json_schemas=json_schemas),
            "",
            "Each is also callable as call_tool(name, **kwargs), the tool's name as a string "
            "and keyword arguments only. Inside async code, "
            "await call_tool_async(name, **kwargs) runs calls concurrently with "
            "asyncio.gather(...). A failing call raises ToolError; catch it to carry on.",
        ]
    lines += [
        "",
        PERSISTENT_STATE
        if persistent
        else "The sandbox starts empty every time: variables and imports do not survive "
        "between calls, so do the whole job in one program.",
    ]
    if grants:
        lines += ["", *grants]
    else:
        lines.append("It has no files and no network access, and no pip packages.")
    lines.append("Print the results you need; long output is cut.")
    return "\n".join(lines)


def describe_grants(
    mounts: Sequence[Mount],
    domains: Sequence[AllowedDomain],
    output_limits: OutputLimits | None = None,
    packages: PackageGrant | None = None,
) -> list[str]:
    """What the program may touch, for the execute_code description: the mounts with their
    modes, /output, the allowed domains with their methods, and who is bound by them."""
    limits = output_limits or OutputLimits()
    if mounts:
        files = (
            "Host directories in the sandbox: "
            + ", ".join(m.describe() for m in mounts)
            + "; nothing else of the host's files exists there."
        )
    else:
        files = "It has no host files."
    lines = [
        files,
        f"Files written under /output are handed back after the run (at most "
        f"{limits.max_files} files, {_size(limits.max_file_bytes)} each); "
        "anything else written is lost.",
    ]
    if domains:
        lines.append(
            "Network: HTTP(S) only to "
            + "; ".join(d.describe() for d in domains)
            + ". Use http_get(url, headers=None, params=None), "
            "http_post(url, body=None, headers=None, json=None) or "
            "http_request(method, url, headers=None, body=None): each returns a response with "
            ".status, .headers, .text and .json(); urllib.request.urlopen works too. Any other "
            "request raises NetworkDenied (a NetworkError)."
        )
    else:
        lines.append("It has no network access.")
    if mounts or domains:
        lines.append(
            "These file and network rules bind this program only: the functions listed above "
            "run on the host and are not bound by them."
        )
    lines.append(describe_packages(packages))
    return lines


def describe_packages(packages: PackageGrant | None) -> str:
    """The line that says which packages a program may import besides the standard library."""
    if packages is None:
        return "No pip packages."
    return (
        "Packages it may import besides the standard library: "
        + ", ".join(packages.imports or packages.modules)
        + f" ({', '.join(packages.versions())}); no others can be installed."
    )


def _size(n: int) -> str:
    mib = 1024 * 1024
    return f"{n // mib} MiB" if n >= mib and n % mib == 0 else f"{n} bytes"


def instructions(
    tools: Sequence[Tool],
    *,
    tool_name: str = "execute_code",
    grants: Sequence[str] = (),
    name_tools: bool = True,
    persistent: bool = False,
) -> str:
    """The system-prompt fragment that teaches the CodeAct way of working.

    `grants` (from `describe_grants`), when the sandbox may reach files or the network, add
    one line that says so; the details stay in the tool's description. `name_tools` False
    leaves the tools' names to the description (as Agent Framework's reference does).
    `persistent`: the calls share a session's state, and the model is told so (only then)."""
    names = ", ".join(f"{t.name}()" for t in tools) or "the functions it lists"
    functions = f"Its functions ({names})" if name_tools else "The functions its description lists"
    extra = [f"- {line}" for line in grants if line.startswith("Packages it may import")]
    if persistent:
        extra.append(
            f"- Variables, functions, classes and imports of a `{tool_name}` program that "
            "finishes are still there in the next call: build on them, do not fetch again."
        )
    if grants:
        extra.append(
            f"- The `{tool_name}` sandbox can use the host directories and web addresses its "
            "description lists, and nothing else."
        )
    return "\n".join(
        [
            f"You can run Python with the `{tool_name}` tool. {functions} fetch the data; "
            "Python does the rest.",
            f"- Do the whole task in ONE `{tool_name}` call whenever you can: call the functions "
            "in loops, calculate with Python, and print the final answer in that same program.",
            "- Use the functions for every fact; never guess or hard-code data.",
            "- Call the functions as they are; they already exist, do not define them.",
            "- If the program fails, read the error, fix the program and run it again.",
            "- The user sees only your reply, never the program's output: once the program "
            "has printed the answer, reply with all of it (every line it printed).",
            *extra,
            "",
            _EXAMPLE,
        ]
    )
