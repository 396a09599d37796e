"""Structured output: a pydantic model as the answer's required shape.

The schema goes into the system prompt while tools are offered (many servers, llama.cpp
among them, cannot constrain the reply to a schema and offer tools in the same request).
When the final answer does not validate, the model gets the validation error and one more
turn in which the reply is constrained with ``response_format`` and no tools are offered.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic

from ..chat.messages import ResponseFormat
from ..errors import ConfigurationError

__all__ = ["OutputSpec"]

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)


class OutputSpec:
    """How to ask for, and how to check, a structured answer of type `model`."""

    def __init__(self, model: type[pydantic.BaseModel]) -> None:
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            raise ConfigurationError(f"output_type must be a pydantic model class, got {model!r}")
        self.model = model
        self.schema: dict[str, Any] = model.model_json_schema()

    def response_format(self) -> ResponseFormat:
        return {"name": self.model.__name__, "schema": self.schema}

    def instructions(self) -> str:
        return (
            "When you give the final answer, reply with only a JSON object (no other text) "
            f"that matches this JSON schema:\n{json.dumps(self.schema)}"
        )

    def parse(self, text: str) -> pydantic.BaseModel:
        """Validate `text` (bare JSON, or JSON in a fenced block or among prose)."""
        error: pydantic.ValidationError | None = None
        for candidate in _candidates(text):
            try:
                return self.model.model_validate_json(candidate)
            except pydantic.ValidationError as exc:
                error = error or exc
        assert error is not None  # _candidates always yields the text itself
        raise error

    def retry_prompt(self, error: Exception) -> str:
        detail = " ".join(str(error).split())
        return (
            f"That answer is not valid: {detail[:600]}. Reply again with only the JSON object "
            "that matches the schema."
        )


def _candidates(text: str) -> list[str]:
    found = [m.strip() for m in _FENCED.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        found.append(text[start : end + 1])
    found.append(text.strip())
    return found
