"""What a backend's pool prepares for (`sandbox/pool_walls.py`): the walls of the runs that
come, without being remade at every run when runs with different walls alternate."""

from __future__ import annotations

from pathlib import Path

from codeact.sandbox.pool_walls import PoolWalls, identity


def _moves(walls: PoolWalls[str], runs: str) -> str:
    """For each run, "m" if it moved the pool, "p" if the pool had its walls, "o" otherwise."""
    seen = []
    for run in runs:
        pooled = walls.current == run
        seen.append("m" if walls.ask(run) else "p" if pooled else "o")
    return "".join(seen)


def test_the_first_run_with_walls_of_its_own_moves_the_pool() -> None:
    assert _moves(PoolWalls("d"), "aaaa") == "mppp"


def test_the_pool_keeps_the_walls_it_has_when_runs_alternate() -> None:
    walls = PoolWalls("d")
    assert _moves(walls, "abababab") == "mopopopo"
    assert walls.current == "a"


def test_two_runs_in_a_row_move_the_pool_to_new_walls() -> None:
    walls = PoolWalls("d")
    assert _moves(walls, "aabbba") == "mpompo"
    assert walls.current == "b"


def test_runs_that_take_turns_leave_the_pool_where_it_is() -> None:
    # Three CodeActs on one shared backend, round robin: the pool keeps the first's walls
    # (each run's walls differ from the run's before), it is never remade.
    walls = PoolWalls("d")
    assert _moves(walls, "abcabcabc") == "moopoopoo"
    assert walls.current == "a"


def test_a_folder_replaced_at_its_path_is_another_folder(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    before = identity(str(folder))
    assert before is not None and identity(str(folder)) == before
    folder.rename(tmp_path / "old")
    assert identity(str(folder)) is None
    folder.mkdir()
    assert identity(str(folder)) not in (None, before)
