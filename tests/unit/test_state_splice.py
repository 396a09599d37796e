"""A guest's new state may be spliced: new bytes plus spans of the state it was given. The host
only copies bytes, and refuses a splice that does not fit the bytes it has or the limit."""

from __future__ import annotations

from codeact.bridge.state import GuestState

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
