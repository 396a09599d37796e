"""The argument names a tool's JSON schema declares, and where a schema's ``$ref`` points.

Frameworks leave out of a tool's schema the parameters they fill themselves (LangChain's
InjectedToolArg and InjectedState, a Pydantic AI RunContext, a FastMCP Context): a program must
not pass them. So a tool described by a JSON schema takes only the names its schema declares
(`ArgumentNames`), unless the schema says it takes others (``additionalProperties`` true or a
schema).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ArgumentNames", "resolve_ref"]


@dataclass(frozen=True)
class ArgumentNames:
    """The argument names a tool's schema declares: the properties and patternProperties of
    its top, and of the schemas combined there (allOf, anyOf, oneOf, $ref, if/then/else,
    dependentSchemas)."""

    names: frozenset[str]
    patterns: tuple[re.Pattern[str], ...] = ()

    def declares(self, name: str) -> bool:
        return name in self.names or any(p.search(name) for p in self.patterns)

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> ArgumentNames | None:
        """The names `schema` declares; None when it takes others too (additionalProperties
        or unevaluatedProperties true or a schema, at its top or in a schema combined there)."""
        names: set[str] = set()
        patterns: list[re.Pattern[str] | None] = []
        stack: list[Any] = [schema]
        for _ in range(1024):  # combined schemas may refer to each other: a bounded walk
            if not stack:
                break
            node = stack.pop()
            if not isinstance(node, Mapping):
                continue
            if any(
                _welcomes(node.get(k)) for k in ("additionalProperties", "unevaluatedProperties")
            ):
                return None
            if isinstance(node.get("properties"), Mapping):
                names.update(str(n) for n in node["properties"])
            if isinstance(node.get("patternProperties"), Mapping):
                patterns += [_pattern(p) for p in node["patternProperties"]]
            if "$ref" in node:
                stack.append(resolve_ref(node["$ref"], schema)[0])
            for key in ("allOf", "anyOf", "oneOf"):
                branches = node.get(key)
                stack += branches if isinstance(branches, list) else []
            stack += [node.get(k) for k in ("if", "then", "else")]
            if isinstance(node.get("dependentSchemas"), Mapping):
                stack += list(node["dependentSchemas"].values())
        return cls(frozenset(names), tuple(p for p in patterns if p is not None))


def _welcomes(extra: Any) -> bool:
    """Whether an ``additionalProperties`` value takes names not declared: true or a schema."""
    return extra is True or isinstance(extra, Mapping)


def _pattern(text: Any) -> re.Pattern[str] | None:
    try:
        return re.compile(str(text))
    except re.error:  # an ECMA-262 pattern Python cannot read: it declares nothing here
        return None


def resolve_ref(ref: Any, root: Mapping[str, Any]) -> tuple[Any, str]:
    """The schema a local ``$ref`` (``#/$defs/Name``) points at in `root`, and its last name;
    ``(None, "")`` for any other reference or one that points at nothing."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None, ""
    node: Any = root
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return None, ""
        node = node[part]
    return node, parts[-1]
