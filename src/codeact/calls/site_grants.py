"""Pre-approval of the call sites a person read, matched by their literal arguments.

When a person approves a program from a static scan of its gated calls (`CallPlan`), what
they read is call sites: ``send_email(to="ann@example.com")`` on line 3, ``send_email(to=t)``
in a loop. A count per tool would let any call of the tool use up that approval, including
one the scan did not see (a path it does not know: another module running text, a frame
the program wrote to the host's channel itself). So each site grants what it shows:

* a site whose arguments are all literals (`PlannedCall.arguments`) grants a call with
  exactly those arguments, as the tool receives them;
* a site with computed arguments grants a call of its tool with any arguments;
* a site grants one call; where nobody can be asked while the program runs (a framework's
  approval before it runs), a site in a loop, comprehension or function grants as many as
  the program makes there (`Site.repeated`).

A call that matches no site left is asked (or denied) as any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scan import CallPlan

__all__ = ["Site", "SiteGrants", "plan_sites", "same_values"]


@dataclass(frozen=True)
class Site:
    """One call site a person read: its literal arguments (None: computed) and whether it
    may run more than once."""

    arguments: Mapping[str, Any] | None
    repeated: bool = False


def plan_sites(plan: CallPlan, *, loops_repeat: bool = False) -> dict[str, list[Site]]:
    """The gated call sites of `plan`, by tool; `loops_repeat`: a site in a loop grants
    every call it makes (where nobody can be asked while the program runs), else one, as
    any site (the calls beyond are asked)."""
    return {
        call.tool: [
            Site(arguments, repeated and loops_repeat)
            for arguments, repeated in zip(call.arguments, call.site_repeated, strict=True)
        ]
        for call in plan.gated
    }


def same_values(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same, as JSON tells them apart: ``True`` is not ``1``,
    ``False`` not ``0`` (Python's ``==`` says they are); ``1`` and ``1.0`` are the same
    number (a tool's float parameter receives a literal ``1`` as ``1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


class SiteGrants:
    """The sites granted to one program, used up as its calls match them (not thread-safe:
    the caller holds its own lock)."""

    def __init__(self) -> None:
        self._left: dict[str, list[Site]] = {}
        self._used: set[int] = set()  # ids of sites that ran their one call

    def add(self, tool: str, sites: Iterable[Site]) -> None:
        self._left.setdefault(tool, []).extend(sites)

    def __contains__(self, tool: object) -> bool:
        return bool(self._left.get(str(tool)))

    def take(self, tool: str, arguments: Mapping[str, Any] | None) -> bool:
        """Whether a call of `tool` with `arguments` is granted by a site (using it up if
        it runs once): a literal site with these arguments first, then a computed one."""
        sites = self._left.get(tool, [])
        literal = [s for s in sites if s.arguments is not None]
        if arguments is not None:
            for site in literal:
                if same_values(dict(site.arguments or {}), dict(arguments)) and self._use(site):
                    return True
        return any(self._use(site) for site in sites if site.arguments is None)

    def _use(self, site: Site) -> bool:
        if site.repeated:
            return True
        if id(site) in self._used:
            return False
        self._used.add(id(site))
        return True
