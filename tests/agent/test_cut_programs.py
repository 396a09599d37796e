"""A program whose last line stops inside a string is closed there, and only that."""

from __future__ import annotations

import pytest

from codeact.agent.cut_programs import close_cut_string, closed_note


@pytest.mark.parametrize(
    ("code", "added"),
    [
        ('totals = {"a": 1.5}\nprint(f"Total: {sum(totals.values()):.2f}', '")'),
        ("print('done", "')"),
        ('x = 1\nprint(f"Total: {x}\n', '")'),
        ('rows = [str(1), "a', '"]'),
        ('name = "Hana', '"'),
    ],
    ids=["f_string_in_a_call", "single_quotes", "trailing_newline", "list", "assignment"],
)
def test_a_string_cut_on_the_last_line_is_closed(code: str, added: str) -> None:
    closed = close_cut_string(code)
    assert closed is not None
    program, what = closed
    assert what == added and program == code.rstrip() + added + "\n"
    compile(program, "<test>", "exec")


@pytest.mark.parametrize(
    "code",
    [
        'print("fine")\n',
        'print("cut\nprint("next")\n',  # the open string is not on the last line
        "def f(:\n    pass\n",
        'x = """never closed\n',
        'print("a" "b" +\n',
        "print(1\n",
    ],
    ids=["parses", "not_the_last_line", "other_error", "triple_quoted", "open_expression", "paren"],
)
def test_other_programs_are_left_as_they_are(code: str) -> None:
    assert close_cut_string(code) is None


def test_the_note_names_what_was_added() -> None:
    assert closed_note('")', 12) == (
        "[note] the program's last line (line 12) ended inside a string; it was closed with "
        '`")` and run. End every string and call you open.'
    )


def test_a_closed_program_still_gets_the_loop_hint() -> None:
    from codeact.agent.loop_hints import stale_loop_variable_hint

    code = "for u in us:\n    t[u] = 1\nfor k in t:\n    print(f'{k}: {u}"
    closed = close_cut_string(code)
    assert closed is not None and stale_loop_variable_hint(closed[0]) is not None
