"""The program's wall-time clock stands still only while a person decides AND the program waits."""

from __future__ import annotations

import time

from codeact.bridge.clock import ProgramClock


def test_the_clock_pauses_only_while_a_decision_blocks_the_program() -> None:
    clock = ProgramClock(10)
    clock.start()
    before = clock.deadline
    clock.person_deciding(True)
    assert not clock.paused  # the program still computes: its time counts
    clock.program_blocked(True)
    assert clock.paused
    time.sleep(0.05)
    assert clock.deadline >= before + 0.05  # the deadline moves along while paused
    clock.program_blocked(False)
    assert not clock.paused
    frozen = clock.deadline
    time.sleep(0.02)
    assert clock.deadline == frozen  # and stays put once the program runs again
    clock.person_deciding(False)
    assert frozen >= before + 0.05


def test_two_pending_approvals_pause_until_both_are_answered() -> None:
    clock = ProgramClock(10)
    clock.start()
    clock.program_blocked(True)
    clock.person_deciding(True)
    clock.person_deciding(True)
    clock.person_deciding(False)
    assert clock.paused
    clock.person_deciding(False)
    assert not clock.paused


def test_extend_moves_the_deadline() -> None:
    clock = ProgramClock(1)
    clock.start()
    before = clock.deadline
    clock.extend(5)
    assert clock.deadline == before + 5


def test_the_program_is_frozen_exactly_while_the_clock_stands_still() -> None:
    calls: list[bool] = []
    clock = ProgramClock(10)
    clock.freeze_with(calls.append)
    clock.start()
    clock.program_blocked(True)
    clock.person_deciding(True)
    clock.person_deciding(True)  # a second approval of the same program: no second stop
    assert calls == [True]
    clock.person_deciding(False)
    assert calls == [True]  # one is still pending
    clock.person_deciding(False)
    assert calls == [True, False]  # the last one ended: it goes on
    clock.person_deciding(True)
    assert calls == [True, False, True]
    clock.freeze_with(None)  # the run ends while it is frozen: it is let go, and told no more
    assert calls == [True, False, True, False]
    clock.person_deciding(False)
    assert calls == [True, False, True, False]


def test_a_freeze_set_while_the_clock_stands_still_stops_the_program_at_once() -> None:
    calls: list[bool] = []
    clock = ProgramClock(10)
    clock.start()
    clock.program_blocked(True)
    clock.person_deciding(True)
    clock.freeze_with(calls.append)
    assert calls == [True]
