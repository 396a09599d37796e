"""What the model is told: the `execute_code` tool's description and the system instructions.

Measured with a 1.5B model (DESIGN.md, Models): tools listed as typed signatures of functions
that already exist (not as ``def`` stubs, which it copies into its program as mocks), and one
worked example of a *different* task, including what to reply once the program printed the
answer, are what make small models write one correct program and then state its result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..tools import Tool

__all__ = ["EXECUTE_CODE_PARAMETERS", "describe_execute_code", "describe_tools", "instructions"]

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


def describe_tools(tools: Iterable[Tool]) -> str:
    """Every tool on one line (typed signature: description), its parameters below it, then
    the keys of the structured types it returns or takes.

    Not as ``def`` stubs: a 1.5B model copies stubs into its program as mock functions that
    shadow the real tools (measured: 5 of 6 programs did), and never does with this form.
    """
    lines: list[str] = []
    definitions: dict[str, str] = {}
    for tool in tools:
        doc = " ".join((tool.description or f"Call the {tool.name} tool.").split())
        lines.append(f"- {tool.signature}: {doc}")
        details = _param_lines(tool)
        if tool.returns_doc:
            details.append(f"Returns: {tool.returns_doc}")
        if tool.approval_mode == "always_require":
            details.append(
                "Each call waits for a person's approval; if refused it raises ToolDenied."
            )
        lines += [f"    {line}" for line in details]
        for name, text in tool.definitions.items():
            definitions.setdefault(name, text)
    if definitions:
        lines += ["", "The structured types are dicts with these keys:"]
        lines += [f"  {_dict_shape(text)}" for text in definitions.values()]
    return "\n".join(lines)


def _dict_shape(definition: str) -> str:
    """``class User(TypedDict):\\n    id: int`` -> ``User = {"id": int}`` (comments kept)."""
    head, *fields = definition.splitlines()
    name = head.removeprefix("class ").split("(", 1)[0].rstrip(":")
    items, notes = [], []
    for line in fields:
        field, _, comment = line.strip().partition("#")
        key, sep, annotation = field.partition(":")
        if not sep:
            return definition  # not the shape we know: show it as it is
        items.append(f'"{key.strip()}": {annotation.strip()}')
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


def describe_execute_code(tools: Sequence[Tool], *, grants: Sequence[str] = ()) -> str:
    """The `execute_code` tool's description: what the sandbox is and which functions exist."""
    lines = [
        "Run a Python program in a fresh, isolated sandbox (CPython 3.14 with the standard "
        "library) and get back what it printed and the value of its last line.",
    ]
    if tools:
        lines += [
            "",
            "These functions already exist in the sandbox. Call them directly; never define, "
            "import or mock them, and never invent their results:",
            "",
            describe_tools(tools),
            "",
            'Each is also callable as call_tool("name", **kwargs). Inside async code, '
            'await call_tool_async("name", **kwargs) runs calls concurrently with '
            "asyncio.gather(...). A failing call raises ToolError; catch it to carry on.",
        ]
    lines += [
        "",
        "The sandbox starts empty every time: variables and imports do not survive between "
        "calls, so do the whole job in one program.",
    ]
    if grants:
        lines += ["", *grants]
    else:
        lines.append("It has no files and no network access, and no pip packages.")
    lines.append("Print the results you need; long output is cut.")
    return "\n".join(lines)


def instructions(tools: Sequence[Tool], *, tool_name: str = "execute_code") -> str:
    """The system-prompt fragment that teaches the CodeAct way of working."""
    names = ", ".join(f"{t.name}()" for t in tools) or "the functions it lists"
    return "\n".join(
        [
            f"You can run Python with the `{tool_name}` tool. Its functions ({names}) fetch the "
            "data; Python does the rest.",
            f"- Do the whole task in ONE `{tool_name}` call whenever you can: call the functions "
            "in loops, compute with Python, and print the final answer in that same program.",
            "- Use the functions for every fact; never guess or hard-code data.",
            "- Call the functions as they are; they already exist, do not define them.",
            "- If the program fails, read the error, fix the program and run it again.",
            "- The user sees only your reply, never the program's output: once the program "
            "has printed the answer, reply with all of it (every line it printed).",
            "",
            _EXAMPLE,
        ]
    )
