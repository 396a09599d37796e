"""Prefaulting (sandbox/wasm/prefault.py): the pages every run writes are copied into the
pool's free slots, so that a program does not fault on them; and whatever goes wrong, a
program still runs as it would without."""

from __future__ import annotations

import sys
import time

import pytest

from codeact.sandbox.wasm.runtime import WasmRuntime

from .wasm_runs import first_run_faults, json_text, run_report


def _own_runtime(*, prefault: bool) -> WasmRuntime:
    """A runtime of the test's own (its engine and pool), with prefaulting on or off."""
    runtime = WasmRuntime(progress=None)
    if not runtime.slots.enabled:
        pytest.skip("guest memory prefaulting is off here (needs Linux 5.14 and the pool)")
    if not prefault:
        runtime.slots.disable("the test compares without it")
        runtime.instantiate(warm=False).close()  # the slot copied in while learning: used
    return runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_a_new_instance_finds_what_programs_write_copied_in() -> None:
    """After an instance is closed, the pages every run writes are copied into the free slot
    (sandbox/wasm/prefault.py), so a program in the next instance, even one the pool had no
    time to warm, writes them without a fault: `print(1)` faults far less than with the
    copying off (110 pages against 520 here)."""
    import json

    request = json.dumps({"code": "print(1)", "tools": []})
    with_copies = _own_runtime(prefault=True)
    without = _own_runtime(prefault=False)
    copied = min(
        first_run_faults(request, "null", warm=False, runtime=with_copies) for _ in range(4)
    )
    plain = min(first_run_faults(request, "null", warm=False, runtime=without) for _ in range(4))
    print(f"page faults of print(1) in a cold instance: copied in {copied}, not {plain}")
    assert copied * 4 < plain, (copied, plain)


def test_a_slot_copied_in_again_starts_from_the_image() -> None:
    """What a program changed in its memory is gone for the next program, though the next
    instance gets the same slot and its pages were copied in right after the close."""
    runtime = _own_runtime(prefault=True)
    changed = run_report(
        runtime, "import os, sys\nos.MARK = 'left'\nsys.modules['json'] = None\nos.MARK"
    )
    assert "left" in json_text(changed)
    for _ in range(3):
        fresh = run_report(
            runtime, "import os, sys\n(getattr(os, 'MARK', 'fresh'), sys.modules.get('json'))"
        )
        assert "left" not in json_text(fresh) and "None" not in json_text(fresh), fresh


def test_a_refused_copy_turns_prefaulting_off_and_programs_still_run() -> None:
    runtime = _own_runtime(prefault=True)
    madvise = runtime.slots._madvise
    assert madvise is not None
    madvise.populate_write = lambda ranges: "refused by the test"  # type: ignore[method-assign]
    run_report(runtime, "1")  # its close finds the copy refused
    assert not runtime.slots.enabled
    assert "2" in json_text(run_report(runtime, "1 + 1"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_without_process_madvise_each_range_is_copied_on_its_own() -> None:
    """Kernels before 6.13 refuse MADV_POPULATE_WRITE through process_madvise: the tracker
    then calls madvise once per range, and the pages are copied in all the same."""
    import json

    runtime = _own_runtime(prefault=True)
    madvise = runtime.slots._madvise
    assert madvise is not None
    madvise._process_madvise = lambda ranges: False  # type: ignore[method-assign]
    request = json.dumps({"code": "print(1)", "tools": []})
    faults = [first_run_faults(request, "null", warm=False, runtime=runtime) for _ in range(3)]
    assert runtime.slots.enabled and madvise._pidfd == -1
    assert min(faults[1:]) < 250, faults  # 525 with nothing copied in (the test above)


def test_a_new_instance_waits_for_a_copy_under_way() -> None:
    """`taken` (after an instantiation) waits while a close and its copy are under way: the
    new instance most likely got that very slot, and must not run before it is copied in."""
    import threading

    from codeact.sandbox.wasm.prefault import SlotTracker

    tracker = SlotTracker(None)
    closing = threading.Event()
    order: list[str] = []

    def slow_close() -> None:
        closing.set()
        time.sleep(0.2)
        order.append("closed")

    releasing = threading.Thread(target=tracker.release, args=(slow_close,))
    releasing.start()
    assert closing.wait(5)
    tracker.taken()
    order.append("taken")
    releasing.join()
    assert order == ["closed", "taken"]


def test_releases_on_two_threads_close_and_copy_at_once() -> None:
    """Two callers free their instances each on its own thread: neither close waits for the
    other's (one lock for all made every close and copy of the process one at a time)."""
    import threading

    from codeact.sandbox.wasm.prefault import SlotTracker

    tracker = SlotTracker(None)
    both_closing = threading.Barrier(2, timeout=5)
    broken: list[str] = []

    def close() -> None:
        try:
            both_closing.wait()
        except threading.BrokenBarrierError:
            broken.append("a close ran alone")

    releases = [threading.Thread(target=tracker.release, args=(close,)) for _ in range(2)]
    for release in releases:
        release.start()
    for release in releases:
        release.join(10)
    assert broken == []


def test_a_new_instance_waits_only_for_releases_begun_before_it() -> None:
    """`taken` waits for the closes under way when it is called (one of them freed the slot
    the instance may have got), not for those begun later: they cannot be its slot, and
    with two callers a wait for every later one could go on and on."""
    import threading

    from codeact.sandbox.wasm.prefault import SlotTracker

    tracker = SlotTracker(None)

    def closing_release() -> tuple[threading.Thread, threading.Event]:
        """A release whose close is under way until the returned event is set."""
        closing, may_end = threading.Event(), threading.Event()

        def close() -> None:
            closing.set()
            may_end.wait(10)

        thread = threading.Thread(target=tracker.release, args=(close,))
        thread.start()
        assert closing.wait(5)
        return thread, may_end

    first, first_may_end = closing_release()
    taken = threading.Thread(target=tracker.taken)
    taken.start()
    time.sleep(0.05)
    later, later_may_end = closing_release()
    assert taken.is_alive()  # the first close is still under way
    first_may_end.set()
    taken.join(5)
    finished_before_later = not taken.is_alive()
    later_may_end.set()
    first.join(5)
    later.join(5)
    assert finished_before_later


def test_two_releases_at_once_copy_in_different_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release that starts while another copies in slots leaves those slots to it: it
    copies the free slots no one is copying (here the fourth, freed meanwhile)."""
    import threading

    from codeact.sandbox.wasm import prefault

    slot = [n << 30 for n in range(1, 5)]
    tracker = prefault.SlotTracker(prefault.WriteSet(((0, prefault.PAGE),)), "guest", (0, 1))
    looks: list[int] = []

    def empty(write_set: prefault.WriteSet) -> list[int]:
        looks.append(1)
        return slot[:3] if len(looks) == 1 else slot

    monkeypatch.setattr(tracker, "_empty", empty)
    first_copying, second_copied = threading.Event(), threading.Event()
    copied: list[int] = []

    def populate_write(ranges: list[tuple[int, int]]) -> str:
        address = ranges[0][0]
        copied.append(address)
        if address == slot[0]:
            first_copying.set()
            second_copied.wait(5)  # still copying while the second release looks
        elif address == slot[3]:
            second_copied.set()
        return ""

    assert tracker._madvise is not None
    monkeypatch.setattr(tracker._madvise, "populate_write", populate_write)
    first = threading.Thread(target=tracker.release, args=(lambda: None,))
    first.start()
    assert first_copying.wait(5)
    tracker.release(lambda: None)
    first.join(10)
    assert sorted(copied) == slot, copied


def test_a_release_copies_in_a_free_slot_whatever_the_estimate_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slot a close just freed is the one wasmtime hands out next: it is copied in even
    when the tracker believes it keeps enough free slots copied in already (up to twice
    the slots it aims at, which bounds the memory they hold)."""
    from codeact.sandbox.wasm import prefault

    tracker = prefault.SlotTracker(prefault.WriteSet(((0, prefault.PAGE),)), "guest", (0, 1))
    monkeypatch.setattr(tracker, "_empty", lambda write_set: [5 << 30])
    copied: list[int] = []

    def populate_write(ranges: list[tuple[int, int]]) -> str:
        copied.append(ranges[0][0])
        return ""

    assert tracker._madvise is not None
    monkeypatch.setattr(tracker._madvise, "populate_write", populate_write)
    tracker._copied = tracker._spare  # the estimate: enough free slots copied in
    tracker.release(lambda: None)
    assert copied == [5 << 30]
    tracker._copied = 2 * tracker._spare  # twice the aim: the memory it holds is bounded
    tracker.release(lambda: None)
    assert copied == [5 << 30]


def test_pages_close_together_are_copied_as_one_range() -> None:
    from codeact.sandbox.wasm.prefault import PAGE, WriteSet

    image = 1 << 30
    written = WriteSet.from_pages(image, image - 2 * PAGE, [0, 1, 5, 9, 10])
    assert written.ranges == ((-2 * PAGE, 2 * PAGE), (3 * PAGE, PAGE), (7 * PAGE, 2 * PAGE))
    assert written.pages == 5
    assert written.sentinels(image) == (image - 2 * PAGE, image + 8 * PAGE)


def test_the_environment_can_turn_prefaulting_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeact.sandbox.wasm.prefault import ENV_SWITCH, learn

    made: list[object] = []
    monkeypatch.setenv(ENV_SWITCH, "0")
    tracker = learn(lambda: made.append(1), lambda m: None, lambda m: None, "", (0, 1 << 47))
    assert not tracker.enabled and not made


def test_without_proc_maps_the_runtime_is_made_without_prefaulting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where ``/proc/self/maps`` is missing (macOS, Windows, a locked-down /proc), the
    runtime is made as before, with prefaulting off."""
    from codeact.sandbox.wasm import prefault

    monkeypatch.setattr(prefault, "_MAPS", "/nonexistent/maps")
    assert prefault.address_space() == [] and prefault.new_reservation([]) is None
    runtime = WasmRuntime(progress=None)
    assert not runtime.slots.enabled
    assert "2" in json_text(run_report(runtime, "1 + 1"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/pagemap")
def test_the_maps_are_read_for_new_slots_at_most_every_rescan_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the process's maps costs most of a millisecond (thousands of mappings with a
    pool): closes that find no free slot the tracker knows look for new ones at most every
    `RESCAN_SECONDS` (five closes back to back: one look)."""
    from codeact.sandbox.wasm import prefault

    scans: list[str] = []

    def no_slots(image: str, within: tuple[int, int]) -> list[tuple[int, int, int]]:
        scans.append(image)
        return []

    monkeypatch.setattr(prefault, "image_vmas", no_slots)
    tracker = prefault.SlotTracker(prefault.WriteSet(((0, prefault.PAGE),)), "guest", (0, 1))
    for _ in range(5):
        tracker.release(lambda: None)
    assert len(scans) == 1 and tracker.enabled


def test_learning_finds_no_slot_and_leaves_prefaulting_off() -> None:
    from codeact.sandbox.wasm.prefault import learn

    closed: list[object] = []
    tracker = learn(
        object, lambda made: None, closed.append, "/nonexistent/guest.cwasm", (0, 1 << 47)
    )
    assert not tracker.enabled and len(closed) == 1
