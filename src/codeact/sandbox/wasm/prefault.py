"""Copying in, before a program runs, the pages of guest memory that every program writes.

Each instance's linear memory is a copy-on-write mapping of the guest's memory image. The
guest's Python reads most pages before it writes them (a reference count is loaded, then
stored), so a page it writes takes two faults: the read maps the image's page read-only, the
write copies it. To replace a read-only entry the kernel must flush it from every CPU that
runs a thread of this process, by an inter-processor interrupt, which on a virtual machine is
a trap to the hypervisor. With two callers, or the pool's thread making an instance next to a
running program, almost every written page interrupts the other core: measured on a 2-core
VM, `print(1)` in a new instance took 7.0-7.2 ms of CPU with another thread of the process
busy, 1.6 ms without, and 0.6-0.7 ms either way once its pages were copied in beforehand.

The pages a run writes are much the same every time (the runner's objects, the stack, the
allocator's free lists), so they are learnt once per process from one run of the guest's
warm-up (a program that calls a tool) in a probe instance (`learn`). Then, whenever an
instance is closed, `SlotTracker.release` has the kernel copy those pages into the free
slots of the pool (``MADV_POPULATE_WRITE``, all ranges in one ``process_madvise`` call where
the kernel allows it): pages not mapped yet, so no flush and no fault, and the next instance,
which wasmtime puts in one of those slots, finds them written already. The work moves from
the program's thread to the one that frees the instance (the pool's, or with several
callers each runner's own, after its caller has the outcome: releases on several threads
run at once, each copying in slots the others are not), where it is 1.9 us a page with
nothing to interrupt.

Which slots: wasmtime's pooling allocator gives each instance's memory a slot at a fixed
address, and its C API does not say which. Closing an instance resets its slot, which unmaps
every page of it; the free slots the tracker copied in keep theirs. So after a close, the
slots holding the guest's image (from ``/proc/self/maps``) with none of the learnt pages
mapped are the one just freed, or a slot no instance has run in yet: those are copied in.
Only slots in the engine's own pool count (`new_reservation`: the range it reserved).
Nothing is ever unmapped or written by the tracker: a copied-in page has the image's
contents, whether or not an instance owns the slot by then, so a slot taken between the
close and the copy is only copied in early. Any failure of the kernel calls turns it off for
the process, and instances are then made as before.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .populate import Populate

__all__ = [
    "ENV_SWITCH",
    "SlotTracker",
    "WriteSet",
    "address_space",
    "image_vmas",
    "learn",
    "new_reservation",
    "written_pages",
]

log = logging.getLogger("codeact.sandbox.wasm")

P = TypeVar("P")

PAGE = os.sysconf("SC_PAGESIZE") if hasattr(os, "sysconf") else 4096
#: Pages closer than this are copied in as one range (fewer ranges for the kernel to walk).
_GAP_PAGES = 2

#: ``CODEACT_WASM_PREFAULT=0`` turns prefaulting off (each free slot copied in holds the write
#: set's pages, about 4 MB; `SlotTracker` aims at `spare` of them).
ENV_SWITCH = "CODEACT_WASM_PREFAULT"

_MAPS = "/proc/self/maps"
_MEMFD_IMAGE = "/memfd:wasm-memory-image"  # wasmtime's name for an image made in memory
#: Seconds between two reads of the process's maps for slots the tracker has not seen (1 s
#: measured worse: back to back, the slots made in the first second went uncopied).
RESCAN_SECONDS = 0.05
_PRESENT = 1 << 63
_FILE = 1 << 61  # a page of a file (the image's, mapped read-only) or shared memory
_EXCLUSIVE = 1 << 56  # mapped by this process only: an anonymous copy it wrote


@dataclass(frozen=True)
class Vma:
    start: int
    end: int
    perms: str
    name: str


def _vma(line: str) -> Vma:
    parts = line.split(maxsplit=5)
    lo, hi = (int(x, 16) for x in parts[0].split("-"))
    return Vma(lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else "")


def address_space() -> list[Vma]:
    """This process's mappings now (give them to `new_reservation` after making an engine);
    none where ``/proc`` does not list them (not Linux)."""
    try:
        with open(_MAPS) as f:
            return [_vma(line) for line in f]
    except OSError:
        return []


def _anonymous_rw(vma: Vma) -> bool:
    return vma.perms == "rw-p" and not vma.name


def new_reservation(before: Sequence[Vma]) -> tuple[int, int] | None:
    """The address range a new engine's pool reserved for its memories: the largest mapping
    that is not in `before` (terabytes; the engine's other pools are far smaller)."""
    old = set(before)
    new = [v for v in address_space() if v not in old and v.perms == "---p"]
    largest = max(new, key=lambda v: v.end - v.start, default=None)
    if largest is None or largest.end - largest.start < 1 << 32:
        return None
    return largest.start, largest.end


def image_vmas(image_file: str, within: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Each slot `within` a pool that holds the guest's image: (start of its accessible
    memory, image start, end of its accessible memory), from ``/proc/self/maps``. The image
    is mapped from `image_file`, or from wasmtime's memfd when the guest was compiled in
    this process. (A pool splits into thousands of mappings: only the image's lines and
    their neighbours are parsed.)"""
    try:
        with open(_MAPS) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for i, line in enumerate(lines):
        if image_file not in line and _MEMFD_IMAGE not in line:
            continue  # the cheap test first: most of the lines are the pool's slots
        vma = _vma(line)
        named = vma.name == image_file or vma.name.startswith(_MEMFD_IMAGE)
        if not named or vma.perms != "rw-p" or not within[0] <= vma.start < within[1]:
            continue
        lo, hi = vma.start, vma.end
        below = _vma(lines[i - 1]) if i > 0 else None
        above = _vma(lines[i + 1]) if i + 1 < len(lines) else None
        if below is not None and _anonymous_rw(below) and below.end == lo:
            lo = below.start  # the memory below the image (the guest's stack)
        if above is not None and _anonymous_rw(above) and above.start == hi:
            hi = above.end  # and above it (the heap grown since the snapshot)
        found.append((lo, vma.start, hi))
    return found


def written_pages(lo: int, hi: int) -> list[int]:
    """Page numbers (relative to `lo`) in [lo, hi) that this process wrote: present, not the
    file's or the zero page, and its own (from ``/proc/self/pagemap``)."""
    count = (hi - lo) // PAGE
    with open("/proc/self/pagemap", "rb", buffering=0) as f:
        f.seek(lo // PAGE * 8)
        entries = array("Q", f.read(count * 8))
    want = _PRESENT | _EXCLUSIVE
    return [i for i, e in enumerate(entries) if e & (want | _FILE) == want]


def _mapped(pagemap: int, addresses: Sequence[int]) -> bool:
    """Whether any page at `addresses` is mapped (present), `pagemap` this process's."""
    for address in addresses:
        if int.from_bytes(os.pread(pagemap, 8, address // PAGE * 8), "little") & _PRESENT:
            return True
    return False


@dataclass(frozen=True)
class WriteSet:
    """The pages a run writes, as (offset from the image's start, length) ranges in bytes."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def from_pages(cls, image: int, lo: int, pages: Sequence[int]) -> WriteSet:
        merged: list[list[int]] = []
        for page in pages:
            if merged and page - merged[-1][1] <= _GAP_PAGES:
                merged[-1][1] = page + 1
            else:
                merged.append([page, page + 1])
        start = lo - image
        return cls(tuple((start + a * PAGE, (b - a) * PAGE) for a, b in merged))

    @property
    def pages(self) -> int:
        return sum(length for _, length in self.ranges) // PAGE

    def sentinels(self, image: int) -> tuple[int, int]:
        """Two pages that are mapped in a slot at `image` once it was copied in or ran."""
        last_start, last_length = self.ranges[-1]
        return image + self.ranges[0][0], image + last_start + last_length - PAGE


class SlotTracker:
    """Keeps the pages of `write_set` copied in, in every free slot of the pool it knows.

    Every close of an instance goes through `release`: after wasmtime has reset the slot
    (which unmaps every page of it), the slots that have none of the pages mapped are the
    ones just freed (or never used); those are copied in again, so that whichever free slot
    the allocator hands out next, the program finds its pages written already. It aims at
    `spare` free slots kept so, to bound the memory this holds (each costs the write set's
    size); the count is an estimate (each instantiation is taken to use one), which can run
    over after many instances were alive at once, never past the slots the pool has used.
    Never does it unmap anything: a copied-in page has the image's contents, whether or not
    an instance owns the slot."""

    def __init__(
        self,
        write_set: WriteSet | None,
        image_file: str = "",
        pool: tuple[int, int] = (0, 0),
        spare: int = 4,
    ) -> None:
        self.write_set = write_set
        self._image_file = image_file
        self._pool = pool
        self._spare = spare
        self._known: list[int] = []  # where each slot seen holds the image
        self._copied = 0  # free slots copied in (an estimate: each take uses one)
        self._lock = threading.Lock()  # the counts and the slots being copied in
        # One lock per close and copy under way (on any thread), held until it is done.
        self._releasing: set[threading.Lock] = set()
        self._copying: set[int] = set()  # slots a release is copying in now
        self._madvise = Populate() if write_set is not None else None
        self._pagemap = -1  # this process's /proc/self/pagemap, opened on first use
        self._pagemap_pid = -1
        self._next_scan = 0.0  # when `_refill` may read the process's maps again

    @property
    def enabled(self) -> bool:
        return self.write_set is not None

    def disable(self, why: str) -> None:
        if self.write_set is not None:
            log.info("guest memory prefaulting is off for this process: %s", why)
        self.write_set = None

    def taken(self) -> None:
        """An instance was made. This waits for a copy under way, on purpose: the instance
        most likely got the slot being copied in (the one just freed), and a program that
        starts before that copy is done writes those pages itself, with the faults the copy
        is there to spare it (two callers back to back, measured: 120-134 executions/s
        without the wait, 238-259 with it; runs with the full 530 faults 3-5% with it)."""
        with self._lock:
            under_way = list(self._releasing)  # not those begun later: not its slot
            self._copied = max(0, self._copied - 1)
        for release in under_way:
            with release:
                pass

    def release(self, close: Callable[[], None]) -> None:
        """`close()` an instance (its slot is reset), then copy in the free slots' pages.
        Releases on several threads run at once, each copying in other slots."""
        release = threading.Lock()
        release.acquire()
        with self._lock:
            self._releasing.add(release)
        try:
            close()
            if self.write_set is not None:
                try:
                    self._refill(self.write_set)
                except Exception as exc:  # a speed-up only: never a reason for a close to fail
                    self.disable(f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._releasing.discard(release)
            release.release()

    def _refill(self, write_set: WriteSet) -> None:
        with self._lock:
            empty = self._empty(write_set)
            if not empty and time.monotonic() >= self._next_scan:
                # The slot just freed is one the tracker has not seen: look again (reading
                # the process's maps takes most of a millisecond: at most every
                # RESCAN_SECONDS, in case a wasmtime that frees slots later ever made this
                # the rule).
                self._next_scan = time.monotonic() + RESCAN_SECONDS
                self._known = [image for _, image, _ in image_vmas(self._image_file, self._pool)]
                empty = self._empty(write_set)
            # At least one while the estimate is under twice the aim: the next instance gets
            # the slot just freed (wasmtime hands out the one freed last), and the estimate
            # can be high after instances were made meanwhile; twice bounds the memory held.
            mine = [s for s in empty if s not in self._copying]
            quota = self._spare - self._copied
            if quota <= 0 and self._copied < 2 * self._spare:
                quota = 1
            mine = mine[: max(0, quota)]
            self._copying.update(mine)
            self._copied += len(mine)
        try:
            for image in mine:
                error = self._madvise.populate_write(  # type: ignore[union-attr]
                    [(image + offset, length) for offset, length in write_set.ranges]
                )
                if error:
                    self.disable(error)
                    return
        finally:
            with self._lock:
                self._copying.difference_update(mine)

    def _empty(self, write_set: WriteSet) -> list[int]:
        if self._pagemap < 0 or self._pagemap_pid != os.getpid():
            self._pagemap = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
            self._pagemap_pid = os.getpid()
        pagemap = self._pagemap
        return [s for s in reversed(self._known) if not _mapped(pagemap, write_set.sentinels(s))]


def learn(
    make: Callable[[], P],
    probe: Callable[[P], object],
    close: Callable[[P], None],
    image_file: str,
    pool: tuple[int, int] | None,
) -> SlotTracker:
    """A tracker for a new engine's `pool` (its memories' reserved range), learnt from one
    instance: run `probe` (the guest's warm-up) in it, read which pages it wrote, and free
    it. Off (a tracker that only closes) where anything is not as expected."""
    off = SlotTracker(None)
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "off", "false", "no"):
        return off
    if pool is None or not _linux_with_populate():
        return off
    try:
        before = {image for _, image, _ in image_vmas(image_file, pool)}
        made = make()
    except Exception as exc:  # the runtime's own first instantiation will say what is wrong
        log.info("guest memory prefaulting is off for this process: %s", exc)
        return off
    try:
        # The slot's memory as every instance starts with it: pages past it (the heap, if the
        # probe grew it) are not accessible in a slot whose instance has not grown it.
        new = [v for v in image_vmas(image_file, pool) if v[1] not in before]
        probe(made)
        if len(new) != 1:
            return off
        lo, image, hi = new[0]
        pages = written_pages(lo, hi)
        if not pages:
            return off
        tracker = SlotTracker(WriteSet.from_pages(image, lo, pages), image_file, pool)
    except Exception as exc:  # a probe that failed: prefaulting is a speed-up, never needed
        log.info("guest memory prefaulting is off for this process: %s", exc)
        return off
    finally:
        close(made)
    tracker.release(lambda: None)  # copies the probe's slot in, now that it is free
    return tracker


def _linux_with_populate() -> bool:
    if not Path("/proc/self/pagemap").exists():
        return False
    release = platform.release().split(".")
    try:
        return (int(release[0]), int(release[1].split("-")[0])) >= (5, 14)
    except (IndexError, ValueError):
        return False
