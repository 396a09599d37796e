"""What `execute_code` returns to the agent: the reference's contents, item for item.

The reference (agent-framework-hyperlight) returns, in this order:

- the program's stdout as one text item, when it printed anything;
- one data item per file written under ``/output`` (``additional_properties["path"]``);
- on success, its stderr as its own text item, or, when nothing at all came back,
  ``"Code executed successfully without output."``;
- on failure, an error item: message ``"Execution error"``, details the program's stderr (where
  a Python traceback lands), or ``"Unknown sandbox error"``.

Every item but the no-output notice has ``raw_representation={"success", "stdout", "stderr"}``.
codeact's program does not write its traceback to stderr (it comes back separately, with line
numbers of the submitted code), so the error's details and the snapshot's ``stderr`` are the
program's stderr followed by the traceback; a stopped program (a limit) gets the stop message,
which names the limit. What the reference has no place for (the last line's value, the error's
type, line and limit, files not returned, truncated output, tool calls) rides on every item as
``additional_properties["codeact"]`` (`ExecutionResult.to_dict()`), which code written for the
reference does not read. ``result_format="codeact"`` returns codeact's own shape instead: one
text item with `ExecutionResult.to_model_text()` (output, value, error), then the files.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from agent_framework import Content

from ..._display import utf8_safe
from ...runtime import ExecutionResult

__all__ = [
    "EXECUTION_ERROR_MESSAGE",
    "NO_OUTPUT_TEXT",
    "UNKNOWN_ERROR_DETAILS",
    "ResultFormat",
    "error_details",
    "execution_contents",
]

ResultFormat: TypeAlias = Literal["reference", "codeact"]

NO_OUTPUT_TEXT = "Code executed successfully without output."
EXECUTION_ERROR_MESSAGE = "Execution error"
UNKNOWN_ERROR_DETAILS = "Unknown sandbox error"


def error_details(result: ExecutionResult) -> str:
    """What the reference's stderr would hold: the program's stderr, then why it failed."""
    stderr = result.stderr.replace("\r\n", "\n")
    error = result.error
    if error is None:
        return utf8_safe(stderr)
    if error.traceback:
        why = error.traceback
    elif error.limit is not None:
        why = f"{error.type}: {error.message} (limit: {error.limit})"
    else:
        why = f"{error.type}: {error.message}"
    if not why.endswith("\n"):
        why += "\n"
    if stderr and not stderr.endswith("\n"):
        stderr += "\n"
    return utf8_safe(stderr + why)  # a program's messages may hold lone surrogates


def execution_contents(result: ExecutionResult, *, result_format: ResultFormat) -> list[Content]:
    """The contents `execute_code` returns for `result`."""
    extra = {"codeact": result.to_dict()}
    files = [
        Content.from_data(
            data=f.data,
            media_type=f.media_type,
            additional_properties={"path": f"/output/{f.shown_path}", **extra},
        )
        for f in result.files
    ]
    if result_format == "codeact":
        text = Content.from_text(
            result.to_model_text(), raw_representation=result, additional_properties=dict(extra)
        )
        return [text, *files]

    stdout = result.stdout.replace("\r\n", "\n")
    stderr = error_details(result) if not result.ok else result.stderr.replace("\r\n", "\n")
    snapshot: dict[str, Any] = {"success": result.ok, "stdout": result.stdout, "stderr": stderr}
    contents: list[Content] = []
    if stdout:
        contents.append(
            Content.from_text(
                stdout, raw_representation=snapshot, additional_properties=dict(extra)
            )
        )
    contents += files
    if result.ok:
        if stderr:
            contents.append(
                Content.from_text(
                    stderr, raw_representation=snapshot, additional_properties=dict(extra)
                )
            )
        if not contents:
            contents.append(Content.from_text(NO_OUTPUT_TEXT, additional_properties=dict(extra)))
        return contents
    contents.append(
        Content.from_error(
            message=EXECUTION_ERROR_MESSAGE,
            error_details=stderr or UNKNOWN_ERROR_DETAILS,
            raw_representation=snapshot,
            additional_properties=dict(extra),
        )
    )
    return contents
