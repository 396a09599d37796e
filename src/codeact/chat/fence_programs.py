"""Whether a code fence in a reply is the model's program (a call of the code tool written as
text) or code the reply shows the user: an example, a draft, a command to run themselves.

A small model asked to call ``execute_code`` often writes its program as a fenced block
instead (`codeact.chat.fallback`); a final answer that shows code must not run. Running it
sent an email the answer said it had NOT sent ("send it yourself with ``send_email(...)``"),
and ran ``pip install requests`` as Python, after which the model's answers were rejected as
a failed program. A fence is the program only when all of these hold:

- its tag is Python (``python``, ``py``, ``python3``), or it has none and then it parses as
  Python and calls one of the sandbox's functions (an untagged fence is as often a shell
  command, output or prose as a program);
- none of its lines is a shell or console line (``pip install``, ``$ ...``, ``!cmd``,
  ``>>> `` prompts, ``npm``, ``curl``...): those are for a terminal, never a program;
- the reply's prose (the text outside its fences) does not present the code to the user: it
  says nothing like "yourself", "when you are ready", "I have not sent it", "for example",
  "copy", "in your terminal", "you can run/send/use...". Its words are matched with their
  look-alikes made plain (`codeact._plain_text`): "haven’t" with a typographic apostrophe,
  as chat models write it, is "haven't" (it was missed, and the email was sent).

The agent also stops reading fences once the model has made a native tool call in the
conversation: such a model calls tools natively, and its fences are answers
(`codeact.agent.agent_run`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from .._plain_text import plain

__all__ = ["SHOWN_TO_USER", "is_program_fence", "prose_of"]

_PYTHON_TAGS = frozenset({"python", "py", "python3"})

_SHELL_LINE = re.compile(
    r"^\s*(?:\$\s|>>>\s?|!\S|(?:sudo|pip3?|pipx|uv|poetry|conda|npm|npx|yarn|pnpm|apt|"
    r"apt-get|brew|curl|wget|git|cd|ls|export|chmod|chown|mkdir|rm|cp|mv|docker|kubectl|"
    r"source|echo|cat)\s+[^\s=(.\[:,)]|python3?\s+-[mc]\s)"
)

#: Prose that presents a fence's code to the user instead of running it.
SHOWN_TO_USER = re.compile(
    r"\byourself\b|\bwhen(?:ever)? you(?:'re| are)? ready\b"
    r"|\b(?:have|has|did|do|will|would)(?: not|n't)(?: yet)? (?:been )?"
    r"(?:sen[dt]|r[au]n|execut\w*|call\w*|done|made|paid|submit\w*|perform\w*)\b"
    r"|\bnot (?:been |yet )?(?:sent|run|executed|performed|submitted)\b"
    r"|\bfor (?:example|instance)\b|\bexample\b|\be\.g\.|\bsample code\b"
    r"|\bcopy\b|\bpaste\b|\bsave (?:it|this|the (?:code|script)) (?:as|to|in)\b"
    r"|\bin (?:your|a) (?:own )?(?:terminal|shell|console|command line|code|script|project|"
    r"program|environment|notebook|editor|app|application)\b"
    r"|\byou (?:can|could|may|might|should|would|need to|have to|will need to|'ll need to)"
    r"(?: then| also| now| later)? (?:run|send|use|call|execute|try|install|do|type|paste|"
    r"add|adapt|modify|change|replace)\b"
    r"|\b(?:do not|don't) run\b",
    re.IGNORECASE,
)

_FENCE_BLOCK = re.compile(r"```[^\n]*\n.*?(?:```|$)", re.S)


def prose_of(text: str) -> str:
    """`text` without its fenced blocks (an unclosed fence runs to the end)."""
    return _FENCE_BLOCK.sub(" ", text)


def is_program_fence(
    lang: str, body: str, *, prose: str, code_functions: Collection[str] = ()
) -> bool:
    """Whether the fence (`lang`, `body`) of a reply whose text outside its fences is `prose`
    is the model's program (see the module). `code_functions`: the sandbox's functions."""
    tag = lang.lower()
    if tag not in _PYTHON_TAGS and tag != "":
        return False
    if not body.strip() or any(_SHELL_LINE.match(line) for line in body.splitlines()):
        return False
    if SHOWN_TO_USER.search(plain(prose)):
        return False
    return tag != "" or _calls_a_function(body, code_functions)


def _calls_a_function(code: str, names: Collection[str]) -> bool:
    if not names:
        return False
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
        for node in ast.walk(tree)
    )
