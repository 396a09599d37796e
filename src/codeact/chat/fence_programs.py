"""Whether a code fence in a reply is the model's program (a call of the code tool written as
text) or code the reply shows the user: an example, a draft, a command to run themselves.

A small model asked to call ``execute_code`` often writes its program as a fenced block
instead (`codeact.chat.fallback`); a final answer that shows code must not run. Running it
sent an email the answer said it had NOT sent ("send it yourself with ``send_email(...)``"),
and ran ``pip install requests`` as Python, after which the model's answers were rejected as
a failed program. A reply's fence is the program only when all of these hold:

- its tag is Python (``python``, ``py``, ``python3``), or it has none and then it parses as
  Python and calls one of the sandbox's functions (an untagged fence is as often a shell
  command, output or prose as a program);
- none of its lines is a shell or console line (``pip install``, ``$ ...``, ``!cmd``,
  ``>>> `` prompts, ``npm``, ``curl``...): those are for a terminal, never a program (a
  ``cat food`` line inside a multi-line string of the program is not one, nor is an
  operator: ``rm -= 1``);
- the reply does not present its code to the user (`presents_code`), which it does when:

  * it also holds a shell or console fence: tagged ``bash``, ``sh``, ``shell``, ``console``,
    ``zsh``, ``powershell``, ``cmd``... or any fence with a shell line (``text`` with
    ``$ `` lines, an untagged ``pip install``). Install steps and then "Then:" and a
    Python fence are instructions: the Python fence ran, failed on the missing package,
    and the model's answers were rejected as a failed program;
  * its prose (the text outside its fences) says so: "yourself", "when you are ready", "I
    have not sent it", "for example", "copy", "in your terminal", "you can run/send/use...";
    or it speaks of a confirmation or a hypothetical: "your confirmation/approval", "before
    sending/running", "would be", "would look like", "the code/call/script would/could",
    "you'd", "if you want/like", "let me know", "here is how", "to do this" (not "to do
    this, I..."). "I'll wait for your confirmation before sending anything. The call would
    be: ``send_email(...)``" sent the email;
  * it asks the user a question: a question after a fence, or one with "you", "your",
    "I", "me" or "we" in it ("Shall I go ahead?"). A question before the program that has
    none of those is the model restating the task ("How many users are there? Let me
    check:") and does not count.

The prose is matched with its look-alikes made plain (`codeact._plain_text`): "haven’t"
with a typographic apostrophe, as chat models write it, is "haven't" (it was missed, and the
email was sent).

A reply that is just a program, alone or with neutral prose of the model's own next step
("Let me compute that:", "I'll call the tools:", "Here is the program:", "Done."), is the
program: that is the rescue. When in doubt the fence is the answer: a program not rescued
leaves an answer that shows code, a program run that the reply only showed the user may
send an email that was to be confirmed first.

The agent also stops reading fences once the model has made a native tool call in the
conversation: such a model calls tools natively, and its fences are answers
(`codeact.agent.agent_run`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from .._plain_text import plain

__all__ = ["SHOWN_TO_USER", "is_program_fence", "presents_code"]

_PYTHON_TAGS = frozenset({"python", "py", "python3"})
_SHELL_TAGS = frozenset(
    {
        "bash", "sh", "shell", "console", "zsh", "fish", "ksh", "csh", "tcsh", "powershell",
        "pwsh", "ps", "ps1", "posh", "cmd", "bat", "batch", "dos", "doscon", "terminal",
        "shell-session", "shellsession", "sh-session", "bash-session", "pycon", "ipython",
    }
)  # fmt: skip

_SHELL_LINE = re.compile(
    r"^\s*(?:\$\s|>>>\s?|!\S|[A-Z]:\\[^>\n]*>|PS [^>\n]*>|"
    r"(?:sudo|pip3?|pipx|uv|poetry|conda|npm|npx|yarn|pnpm|apt|"
    r"apt-get|brew|curl|wget|git|cd|ls|export|chmod|chown|mkdir|rm|cp|mv|docker|kubectl|"
    r"source|echo|cat)\s+(?![-+*/%&|^@<>]+=|[-+*/%]\s)[^\s=(.\[:,)]|python3?\s+-[mc]\s)"
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
    r"|\b(?:do not|don't) run\b"
    # A confirmation awaited, or code that is hypothetical.
    r"|\byour (?:confirmation|approval|permission|go-ahead|consent|ok|okay|review|"
    r"sign-off|decision)\b|\b(?:wait|waiting) for you\b|\bonce you\b"
    r"|\bbefore (?:i |we )?(?:send|sending|run|running|execut\w*|proceed\w*|submit\w*|"
    r"call\w*|do(?:ing)? (?:it|this|that|anything)|go(?:ing)? ahead|mak\w+ (?:the|any))\b"
    r"|\b(?:would|could|might) (?:be|look like|go like|read)\b"
    r"|\b(?:code|call|calls|script|snippet|command|commands|program|function call)"
    r" (?:would|could|might|will look|looks like)\b"
    r"|\byou'd\b|\bif you (?:want|wish|like|prefer|need|'d like|would like|agree|approve)\b"
    r"|\blet me know\b|\b(?:should|shall|may|can) (?:i|we)\b|\bwant me to\b"
    r"|\b(?:do|would) you (?:want|like)\b"
    r"|\bhere(?: is|'s| are) how\b|\bthis is how\b"
    r"|\bto do (?:this|that|so|it)\b(?!,? (?:i\b|i'|let me|let's|we\b))",
    re.IGNORECASE,
)

#: A question to the user: one with "you", "your", "I", "me" or "we" in it.
_QUESTION = re.compile(r"[^.!?\n]*\?")
_TO_THE_USER = re.compile(r"\b(?:you|your|yours|i|me|we|us)\b|\bi'", re.IGNORECASE)

_FENCE_BLOCK = re.compile(r"```[ \t]*([^\n`]*)\n(.*?)(?:```|$)", re.S)


def presents_code(text: str) -> bool:
    """Whether the reply `text` presents its code to the user: it holds a shell or console
    fence, or its prose says so or asks the user a question (see the module)."""
    text = plain(text)
    before, *rest = _FENCE_BLOCK.split(text)[::3]
    after = " ".join(rest)
    if SHOWN_TO_USER.search(before + " " + after):
        return True
    questions = _QUESTION.findall(before)
    if any(_TO_THE_USER.search(q) for q in questions) or _QUESTION.search(after):
        return True
    return any(_is_shell_fence(tag, body) for tag, body in _FENCE_BLOCK.findall(text))


def _is_shell_fence(tag: str, body: str) -> bool:
    words = tag.split()
    return (bool(words) and words[0].lower() in _SHELL_TAGS) or _shell_lines(body)


def is_program_fence(lang: str, body: str, *, code_functions: Collection[str] = ()) -> bool:
    """Whether the fence (`lang`, `body`) is the model's program, in a reply that does not
    present its code to the user (`presents_code`, asked first). `code_functions`: the
    sandbox's functions."""
    tag = lang.lower()
    if tag not in _PYTHON_TAGS and tag != "":
        return False
    if not body.strip() or _shell_lines(body):
        return False
    return tag != "" or _calls_a_function(body, code_functions)


def _shell_lines(body: str) -> bool:
    """Whether `body` has a shell or console line outside a multi-line string of it."""
    inside = _string_lines(body)
    return any(
        _SHELL_LINE.match(plain(line))
        for n, line in enumerate(body.splitlines(), 1)
        if n not in inside
    )


def _string_lines(code: str) -> set[int]:
    """The lines of `code` that a multi-line string begun on an earlier line runs over."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    return {
        n
        for node in ast.walk(tree)
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno is not None
        for n in range(node.lineno + 1, node.end_lineno + 1)
    }


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
