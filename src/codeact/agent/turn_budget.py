"""How much tool-result text one turn may add to the conversation (`Agent.max_turn_output`).

Each program's output is capped by its `Limits.output_bytes` (1 MiB), but a reply may make any
number of calls, and the history is sent again on every later turn: forty calls a turn added
40 MiB to each request after it (40, 80, 120 MiB...). The results of one turn together keep to
the agent's budget, in call order; a result past it keeps its first `FLOOR` characters (its
first lines, where an error says what went wrong) and says how much was cut and why.
"""

from __future__ import annotations

__all__ = ["DEFAULT_TURN_OUTPUT", "FLOOR", "within_budget"]

#: `Agent(max_turn_output=...)`'s default: characters of tool results per turn.
DEFAULT_TURN_OUTPUT = 1 << 20

#: What every result keeps, however little of the budget is left.
FLOOR = 2000


def within_budget(text: str, left: int, budget: int) -> tuple[str, int]:
    """`text` cut to what is `left` of the turn's `budget` (at least `FLOOR` characters),
    with a note when cut; and what is left after it. A text no longer than what it may keep
    is whole, without a note, even once the budget is spent (nothing of it was cut)."""
    keep = max(left, min(FLOOR, budget))
    if len(text) <= keep:
        return text, max(left - len(text), 0)
    note = (
        f"\n[{len(text) - keep:,} more characters cut: this turn's tool results reached the "
        f"agent's limit of {budget:,} characters (max_turn_output); print less, or make "
        "fewer calls at once]"
    )
    return text[:keep] + note, max(left - keep, 0)
