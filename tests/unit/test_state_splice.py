"""A guest's new state may be spliced: new bytes plus spans of the state it was given. The host
only copies bytes, and refuses a splice that does not fit the bytes it has or the limit."""

from __future__ import annotations

from codeact import Limits
from codeact.bridge.state import GuestState, StateCarry

SENT = b"HEADER" + b"a" * 10 + b"b" * 10


def parse(session: dict[str, object], raw: str, *, limit: int = 1000) -> GuestState:
    state = GuestState.from_guest(session, limit=limit, raw_state=raw, sent=SENT)
    assert state is not None
    return state


def test_new_bytes_and_spans_of_the_sent_state_make_the_new_state() -> None:
    got = parse({"splice": [[0, 3], [1, 16, 10], [0, 2]]}, "NEWxy")
    assert got.failed is None and got.state == b"NEW" + b"b" * 10 + b"xy"
    assert got.size == 15


def test_a_state_that_only_passes_through_needs_no_new_bytes() -> None:
    assert parse({"splice": [[1, 0, len(SENT)]]}, "").state == SENT


def test_splices_that_do_not_fit_are_refused_with_the_reason() -> None:
    for splice, why in (
        ([[1, 20, 10]], "runs past the state it was given"),
        ([[0, 9]], "runs past the new bytes"),
        ([[0, 1]], "some new bytes are in no piece"),
        ([[2, 0]], "of no known kind"),
        ([[0, -1]], "not a list of counts"),
        ("0,3", "not a list of pieces"),
    ):
        got = parse({"splice": splice}, "NEW")
        assert got.state is None and why in (got.failed or ""), (splice, got.failed)


def test_a_spliced_state_over_the_limit_is_not_kept() -> None:
    got = parse({"splice": [[1, 0, 26], [0, 3]]}, "NEW", limit=20)
    assert got.state is None and got.over == 29


def test_a_guest_gets_only_pieces_of_its_own_sessions_state() -> None:
    carry = StateCarry(SENT, 1000)
    assert carry.piece(6, 10) == b"a" * 10
    assert carry.piece(0, len(SENT)) == SENT
    for offset, length in ((20, 7), (-1, 2), (0, -1), ("0", 2), (True, 1), (0, 10**12)):
        assert carry.piece(offset, length) is None, (offset, length)
    assert StateCarry(None, 1000).piece(0, 1) is None


def test_the_wasm_host_answers_state_reads_only_for_a_sessions_run() -> None:
    from codeact.bridge.state import STATE_READ
    from codeact.sandbox.wasm.execution import WasmExecution

    execution = WasmExecution(channel=None, limits=Limits())  # type: ignore[arg-type]
    assert execution.dispatch(STATE_READ, "[0, 1]") == (
        False,
        "those bytes are not in this session's state",
    )
    execution.state = StateCarry(SENT, 1000)
    assert execution.dispatch(STATE_READ, "[0, 6]") == (True, "HEADER")
    assert execution.dispatch(STATE_READ, "[20, 7]")[0] is False
    assert execution.dispatch(STATE_READ, '{"offset": 0, "length": 1}')[0] is False
