"""Run programs across a Ray cluster: `CodeActPool` (extra: ``pip install -e '.[ray]'``).

>>> from codeact.ray import CodeActPool                      # doctest: +SKIP
>>> pool = CodeActPool(tools=TOOLS, num_actors=8)           # doctest: +SKIP
>>> results = await pool.map(programs)                      # doctest: +SKIP

See docs/ray.md: a two-node run, how tools travel, what state lives where.
"""

from __future__ import annotations

from .._extras import needs_extra

with needs_extra("ray", "codeact.ray"):
    import ray as _ray  # noqa: F401

from .pool import CodeActPool
from .tools import ToolSpec
from .worker import ActorInfo

__all__ = ["ActorInfo", "CodeActPool", "ToolSpec"]
