"""Sessions restore values lazily: what a program does not read stays as bytes, and yet every
way of reaching a name behaves as if all the values had been restored."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codeact import CodeAct
from codeact.bridge import state

PROBE = """
class Probe:
    def __init__(self, value):
        self.value = value
    def __setstate__(self, state):
        import builtins  # counts unpickling (what restore's code prints is dropped)
        builtins.unpickled = getattr(builtins, "unpickled", 0) + 1
        self.__dict__.update(state)
probe = Probe([1, 2])
n = 0
"""


async def test_an_untouched_value_stays_bytes_across_calls_and_comes_back_unchanged(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    assert (await session.execute(PROBE)).ok
    size = session.size
    for _ in range(3):
        result = await session.execute("n += 1\ngetattr(__import__('builtins'), 'unpickled', 0)")
        assert result.ok and result.value == 0, result.to_model_text()  # never unpickled
        assert result.session is not None and "probe" in result.session.names
    assert session.size == size
    read = await session.execute("[probe.value, n, __import__('builtins').unpickled]")
    assert read.ok and read.value == [[1, 2], 3, 1], read.to_model_text()


async def test_a_value_mutated_in_place_is_saved(make_codeact: Callable[..., CodeAct]) -> None:
    session = make_codeact().session()
    await session.execute("items = [1]\nother = {'k': 1}")
    await session.execute("items.append(2)")
    await session.execute("other['k'] += 1")
    result = await session.execute("[items, other]")
    assert result.value == [[1, 2], {"k": 2}], result.to_model_text()


async def test_a_value_read_only_inside_a_function_defined_earlier(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute(
        "def total():\n    return sum(data)\nclass Box:\n    def get(self):\n        return limit\n"
    )
    await session.execute("data = [1, 2, 3]\nlimit = 7\nbox = Box()")
    result = await session.execute("[total(), box.get()]")
    assert result.ok and result.value == [6, 7], result.to_model_text()


async def test_del_drops_an_untouched_name_and_rebinding_replaces_it(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("x = [1]\ny = [2]\nz = [3]\nw = [4]")
    deleted = await session.execute("del x\nexec('del w')\ny = 'new'")
    assert deleted.ok, deleted.to_model_text()
    assert deleted.session is not None and "x" not in deleted.session.names
    assert "w" not in deleted.session.names
    result = await session.execute("[y, z, 'x' in globals(), 'w' in globals()]")
    assert result.value == ["new", [3], False, False], result.to_model_text()


async def test_names_that_share_an_object_stay_shared(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("a = [1]\nb = {'list': a}\nc = [9]")
    await session.execute("a.append(2)")  # reads a only: b comes back with it
    await session.execute("c = 'rebound'")  # binds c without reading it
    result = await session.execute("[b['list'], b['list'] is a, c]")
    assert result.value == [[1, 2], True, "rebound"], result.to_model_text()
    await session.execute("b = None")  # rebinds one name of a shared pair, reads neither
    after = await session.execute("[a, b]")
    assert after.value == [[1, 2], None], after.to_model_text()


async def test_globals_dir_vars_eval_and_main_show_every_name(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("alpha = [1]\nbeta = {'b': 2}\ngamma = 'g'\ndelta = 4\neps = 5")
    result = await session.execute(
        "import __main__\n"
        "seen = [\n"
        "    'alpha' in globals(),\n"
        "    'beta' in dir(),\n"
        "    vars()['gamma'],\n"
        "]\n"
        "seen"
    )
    assert result.ok and result.value == [True, True, "g"], result.to_model_text()
    explicit = await session.execute("[eval('gamma', None), eval('delta', globals(), None)]")
    assert explicit.ok and explicit.value == ["g", 4], explicit.to_model_text()
    shown = await session.execute(
        "import __main__\n[__main__.delta, eval('eps'), vars(__main__)['beta']]"
    )
    assert shown.ok and shown.value == [4, 5, {"b": 2}], shown.to_model_text()
    inside = await session.execute(
        "def look():\n    return sorted(k for k in globals() if len(k) == 5)\nlook()"
    )
    assert inside.ok and inside.value == ["alpha", "delta", "gamma"], inside.to_model_text()


async def test_values_past_the_first_bytes_are_asked_for_only_when_read(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("big = 'y' * 50000\nsmall = 1\nrows = [{'i': i} for i in range(3000)]")
    size = session.size
    assert size > 60000  # far past what goes with the request
    for _ in range(2):  # the big values stay with the host, and come back as they were
        touched = await session.execute("small += 1")
        assert touched.ok and touched.session is not None, touched.to_model_text()
        assert touched.session.size == size
    read = await session.execute("rows.append({'i': -1})\n[len(big), small, len(rows)]")
    assert read.ok and read.value == [50000, 3, 3001], read.to_model_text()
    seen = await session.execute("[len(globals()['big']), globals()['rows'][-1]]")
    assert seen.ok and seen.value == [50000, {"i": -1}], seen.to_model_text()


async def test_a_state_of_more_values_than_splice_pieces_is_kept(
    make_codeact: Callable[..., CodeAct], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host takes a splice of at most _MAX_SPLICE pieces (100,000); the guest is told.
    monkeypatch.setattr(state, "_MAX_SPLICE", 50)
    session = make_codeact().session()
    first = await session.execute("for i in range(120):\n    globals()[f'v{i}'] = i\ndel i")
    assert first.session is not None and first.session.kept
    untouched = await session.execute("w = 1")  # its spans of the old state merge
    # was: "its splice is not a list of pieces", and nothing kept from then on
    assert untouched.session is not None and untouched.session.kept, untouched.to_model_text()
    every_other = "\n".join(f"v{i} += 1000" for i in range(0, 120, 2))
    scattered = await session.execute(every_other)  # too many pieces: sent whole
    assert scattered.session is not None and scattered.session.kept, scattered.to_model_text()
    result = await session.execute("[w, v0, v1, v118, v119, len(globals())]")
    assert result.value[:5] == [1, 1000, 1, 1118, 119], result.to_model_text()
