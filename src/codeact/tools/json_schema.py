"""Describe a tool that is known only by a JSON schema (an MCP tool, a framework's tool).

`build_json_schema` turns the JSON schema of a tool's arguments (and optionally of its result)
into what `Tool` needs: a validator that checks arguments against the schema itself, the
parameters as the sandbox's plain function takes them, and a readable typed Python signature
for the prompt, e.g. ``search(query: str, limit: int = 10) -> list[Hit]`` with ``Hit`` shown as
a `TypedDict`. Types are rendered the way the sandbox sees values: JSON types as Python types.
"""

from __future__ import annotations

import inspect
import itertools
import json
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._nesting import ARGUMENTS_TOO_DEEP
from ..errors import ToolDefinitionError
from .problems import MAX_LISTED_PROBLEMS
from .schema import ParameterNames, ParameterSpec, catch_all_name
from .schema_names import ArgumentNames, resolve_ref
from .type_text import bytes_note, default_text, render_type, typed_dict_text

if TYPE_CHECKING:
    import jsonschema.exceptions

__all__ = [
    "JsonArgumentsError",
    "JsonArgumentsSchema",
    "arguments_note",
    "build_json_schema",
    "render_json_type",
    "unusable_names_note",
]

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


class JsonArgumentsError(ValueError):
    """Arguments that do not match the schema; `problems` lists what is wrong, one per item."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class JsonArgumentsSchema(ParameterNames):
    """The arguments of a tool described by a JSON schema, and its rendered signature."""

    params: tuple[ParameterSpec, ...]
    json_schema: dict[str, Any]
    signature: str
    definitions: dict[str, str]
    validator: Any = field(repr=False)  # a jsonschema Validator for `json_schema`
    return_annotation: Any = inspect.Parameter.empty
    #: The argument names the schema declares; None when it takes names it does not declare.
    names: ArgumentNames | None = None
    guest_returns: str = ""  # the result's type as the signature shows it
    #: Arguments validate from their parse as from their text (json.loads reads both), and
    #: the tool receives the parse's own values (`Tool.validate_parsed`).
    validates_parse: ClassVar[bool] = True
    passes_parse_on: ClassVar[bool] = True

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Check `arguments` against the schema; return them as keyword arguments.

        A name the schema does not declare is refused unless the schema takes other names
        (`ArgumentNames`). An optional argument given as None, where the schema does not
        allow null, counts as left out: small models pass ``limit=None`` to mean "the default".
        """
        if not isinstance(arguments, dict):
            raise JsonArgumentsError(["arguments must be given as keyword arguments"])
        props = self.json_schema.get("properties") or {}
        required = set(self.json_schema.get("required") or ())
        cleaned = {
            name: value
            for name, value in arguments.items()
            if not (
                value is None
                and name in props
                and name not in required
                and not _allows_null(props[name], self.json_schema)
            )
        }
        unexpected = self._unexpected(cleaned)
        problems = [unexpected] if unexpected else []
        try:
            errors = self._errors(cleaned)
            if len(errors) > MAX_LISTED_PROBLEMS:
                problems.append(f"more than {MAX_LISTED_PROBLEMS} problems (the first are shown)")
            problems += [self._describe(err, cleaned) for err in errors[:MAX_LISTED_PROBLEMS]]
        except RecursionError:  # jsonschema recurses several frames a level, on any stack
            problems.append(ARGUMENTS_TOO_DEEP)
        if problems:
            raise JsonArgumentsError(list(dict.fromkeys(problems)))
        return cleaned

    def _errors(self, instance: dict[str, Any]) -> list[jsonschema.exceptions.ValidationError]:
        """The first problems found, one more than `MAX_LISTED_PROBLEMS` at most (jsonschema
        finds them one by one: 900,000 wrong items took seconds), in the order of their paths."""
        errors = itertools.islice(self.validator.iter_errors(instance), MAX_LISTED_PROBLEMS + 1)
        return sorted(errors, key=lambda e: (len(e.path), str(list(e.path))))

    def _describe(
        self, err: jsonschema.exceptions.ValidationError, instance: dict[str, Any]
    ) -> str:
        path = list(err.absolute_path)
        if not path and err.validator == "required":
            wanted: Any = err.validator_value
            missing = [n for n in wanted if n not in instance]
            return ", ".join(_missing(n) for n in missing) or err.message
        if not path and err.validator == "additionalProperties":
            return self._unexpected(instance) or err.message
        if not path and list(err.relative_schema_path)[:1] == ["propertyNames"]:
            return f"unexpected argument {err.instance!r}"  # a name the schema rules out
        if not path:
            return err.message
        where = str(path[0]) + "".join(f"[{part!r}]" for part in path[1:])
        return f"argument {where!r}: {err.message}"

    def _unexpected(self, instance: dict[str, Any]) -> str:
        """``unexpected argument 'a', unexpected argument 'b'`` for the names the schema does
        not declare (with additionalProperties false, jsonschema finds them too); or ""."""
        names = self.names
        if names is None:
            return ""
        extra = [n for n in instance if not names.declares(n)]
        more = len(extra) - MAX_LISTED_PROBLEMS
        listed = [f"unexpected argument {n!r}" for n in extra[:MAX_LISTED_PROBLEMS]]
        return ", ".join(listed + ([f"{more:,} more unexpected arguments"] if more > 0 else []))


def _missing(name: str) -> str:
    if _usable(name):
        return f"missing required argument {name!r}"
    return f"missing required argument {name!r} (pass it as **{{{name!r}: ...}})"


def _usable(name: str) -> bool:
    """Whether an argument's name is a Python name, so that it can be passed as ``name=...``."""
    return name.isidentifier() and not keyword.iskeyword(name)


def unusable_names_note(params: tuple[ParameterSpec, ...]) -> str:
    """What the description adds for arguments whose names are no Python names (``from``,
    ``user-id``): the signature can show them only as ``**kwargs``."""
    hidden = [p for p in params if not _usable(p.name)]
    if not hidden:
        return ""
    listed = ", ".join(
        f"{p.name!r} ({p.annotation}, "
        + ("required" if p.required else f"default {default_text(p.default)}")
        + ")"
        for p in hidden
    )
    example = ", ".join(f"{p.name!r}: ..." for p in hidden)
    which = "which is not a Python name" if len(hidden) == 1 else "which are not Python names"
    it = "it" if len(hidden) == 1 else "them"
    return f"Also takes {listed}, {which}: pass {it} as **{{{example}}}."


def arguments_note(params: tuple[ParameterSpec, ...], returns: Any) -> str:
    """What a tool's description adds: how to pass arguments whose names are no Python
    names, and that bytes travel as base64 text; "" when neither applies."""
    notes = (unusable_names_note(params), bytes_note(params, returns))
    return " ".join(note for note in notes if note)


def build_json_schema(
    name: str,
    parameters: Mapping[str, Any],
    returns: Mapping[str, Any] | None = None,
    return_annotation: Any = inspect.Parameter.empty,
) -> JsonArgumentsSchema:
    """Build the validator and signature of tool `name` from JSON schemas.

    Raises ToolDefinitionError when `parameters` is not a valid JSON schema of an object, or
    when a schema (an MCP server's, say) nests too deep to be read (checking and rendering it
    recurses).
    """
    try:
        return _build(name, parameters, returns, return_annotation)
    except RecursionError:
        raise ToolDefinitionError(
            f"the schemas of tool {name!r} are nested too deep to be read"
        ) from None


def _build(
    name: str,
    parameters: Mapping[str, Any],
    returns: Mapping[str, Any] | None,
    return_annotation: Any,
) -> JsonArgumentsSchema:
    schema = json.loads(json.dumps(dict(parameters)))  # a private, JSON-only copy
    if schema.get("type", "object") != "object":
        raise ToolDefinitionError(
            f"the parameters of tool {name!r} must be a JSON schema of type 'object', "
            f"got type {schema.get('type')!r}"
        )
    schema.setdefault("type", "object")
    # Imported here: it takes ~0.1 s, and only tools described by a JSON schema need it.
    import jsonschema
    import jsonschema.exceptions
    import jsonschema.validators

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise ToolDefinitionError(
            f"the parameters of tool {name!r} are not a valid JSON schema: {exc.message}"
        ) from None
    props: dict[str, Any] = schema.get("properties") or {}
    required = [n for n in schema.get("required") or () if n in props]
    params: list[ParameterSpec] = []
    renderer = _Renderer(schema)
    rendered: list[str] = []
    # Required parameters first: a Python signature cannot put a defaulted one before them.
    for pname in [*required, *(n for n in props if n not in required)]:
        spec = props[pname] if isinstance(props[pname], dict) else {}
        is_required = pname in required
        text = renderer.type(spec, pname)
        default: Any = inspect.Parameter.empty
        if not is_required:
            default = spec.get("default")
            if "default" not in spec and text != "Any" and "None" not in text.split(" | "):
                text += " | None"
        usable = _usable(pname)
        params.append(
            ParameterSpec(
                name=pname,
                annotation=text,
                default=default,
                description=str(spec.get("description") or ""),
                positional=usable,
            )
        )
        if usable:
            item = f"{pname}: {text}"
            if not is_required:
                shown = repr(default)
                item += f" = {shown if len(shown) <= 40 else '...'}"
            rendered.append(item)
    if any(not p.positional for p in params):
        # A JSON name that is not a Python identifier can still be passed with **{...}.
        rendered.append(f"**{catch_all_name(props)}: Any")
    signature = f"{name}({', '.join(rendered)})"
    returned = ""
    definitions = renderer.definitions
    if return_annotation is not inspect.Parameter.empty:
        # The function's own annotation, rendered as codeact renders its own tools' (a
        # TypedDict's keys, a model's fields), names what the program gets best.
        own: dict[str, str] = {}
        returned = render_type(return_annotation, own)
        definitions = {**own, **definitions}
    elif returns:
        renderer.root = dict(returns)  # a result schema keeps its own $defs
        returned = renderer.type(dict(returns), "Result")
    if returned:
        signature += f" -> {returned}"
    return JsonArgumentsSchema(
        params=tuple(params),
        json_schema=schema,
        signature=signature,
        definitions=definitions,
        validator=cls(schema),
        return_annotation=return_annotation,
        names=ArgumentNames.of(schema),
        guest_returns=returned,
    )


def render_json_type(
    spec: Any, root: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, str]]:
    """Render a JSON schema as a Python type, with the TypedDicts it names.

    >>> render_json_type({"type": "array", "items": {"type": "integer"}})
    ('list[int]', {})
    """
    renderer = _Renderer(root if root is not None else spec)
    return renderer.type(spec), renderer.definitions


class _Renderer:
    """Renders schemas of one tool; named objects become TypedDicts in `definitions`."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.definitions: dict[str, str] = {}
        self._seen: dict[str, str] = {}  # an object schema (as JSON) -> its class name
        self._refs: list[Any] = []  # the $refs being rendered, outermost first

    def type(self, spec: Any, hint: str = "") -> str:
        if spec is True or not isinstance(spec, Mapping) or not spec:
            return "Any"
        if "$ref" in spec:
            ref = spec["$ref"]
            target, ref_name = resolve_ref(ref, self.root)
            if target is None or self._refs.count(ref) >= 2:
                # A schema that holds itself: a TypedDict names itself the second time it
                # is met; anything else (a list of lists of...) is shown twice, then as Any.
                return "Any"
            self._refs.append(ref)
            try:
                return self.type(target, ref_name or hint)
            finally:
                self._refs.pop()
        if "const" in spec:
            return f"Literal[{spec['const']!r}]"
        if isinstance(spec.get("enum"), list):
            return f"Literal[{', '.join(repr(v) for v in spec['enum'])}]"
        for combinator in ("anyOf", "oneOf"):
            if isinstance(spec.get(combinator), list):
                return self._union(self.type(s, hint) for s in spec[combinator])
        if isinstance(spec.get("allOf"), list) and len(spec["allOf"]) == 1:
            return self.type(spec["allOf"][0], hint)
        kind = spec.get("type")
        if isinstance(kind, list):
            return self._union(self.type({**spec, "type": k}, hint) for k in kind)
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            if isinstance(spec.get("prefixItems"), list):
                return f"list[{self._union(self.type(s) for s in spec['prefixItems'])}]"
            items = spec.get("items")
            if items is None or items is True:
                return "list"
            return f"list[{self.type(items, _singular(hint))}]"
        if kind == "object" or "properties" in spec:
            props = spec.get("properties")
            if isinstance(props, Mapping) and props:
                return self._typed_dict(spec, hint)
            extra = spec.get("additionalProperties")
            if isinstance(extra, Mapping) and extra:
                return f"dict[str, {self.type(extra, hint)}]"
            return "dict"
        return "Any"

    @staticmethod
    def _union(parts: Any) -> str:
        return " | ".join(dict.fromkeys(parts))

    def _typed_dict(self, spec: Mapping[str, Any], hint: str) -> str:
        key = json.dumps(spec, sort_keys=True, default=str)
        if key in self._seen:
            return self._seen[key]  # the same object schema again (or recursion): one class
        base = name = _class_name(str(spec.get("title") or hint or "Item"))
        n = 2
        while name in self.definitions:
            name, n = f"{base}{n}", n + 1
        self._seen[key] = name
        self.definitions[name] = ""  # reserve the name before rendering the fields
        required = set(spec.get("required") or ())
        fields: list[tuple[str, str, str]] = []  # (key, type, one-line description)
        for fname, fspec in (spec.get("properties") or {}).items():
            ftype = self.type(fspec, fname)
            if required and fname not in required:
                ftype = f"NotRequired[{ftype}]"
            desc = fspec.get("description") if isinstance(fspec, Mapping) else None
            fields.append((str(fname), ftype, " ".join(str(desc).split()) if desc else ""))
        self.definitions[name] = typed_dict_text(name, fields, total=bool(required))
        return name


def _allows_null(spec: Any, root: Mapping[str, Any]) -> bool:
    if not isinstance(spec, Mapping):
        return True
    if "$ref" in spec:
        target, _ = resolve_ref(spec["$ref"], root)
        return _allows_null(target, root)
    kind = spec.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    for combinator in ("anyOf", "oneOf"):
        if isinstance(spec.get(combinator), list):
            return any(_allows_null(s, root) for s in spec[combinator])
    return kind is None and "enum" not in spec and "const" not in spec


def _class_name(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Item"
    return name if not name[0].isdigit() else f"T{name}"


def _singular(hint: str) -> str:
    if hint.endswith("ies"):
        return hint[:-3] + "y"
    if hint.endswith("s") and not hint.endswith("ss"):
        return hint[:-1]
    return hint
