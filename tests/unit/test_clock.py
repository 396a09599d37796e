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
