"""`codeact sandbox ...`: manage the sandbox guest (build it ahead of first use)."""

from __future__ import annotations

import time

import click

from .common import handle_errors
from .packages_cmd import packages_group

__all__ = ["sandbox_group"]


@click.group("sandbox")
def sandbox_group() -> None:
    """Build and inspect the Wasm sandbox guest; install packages for sandboxes."""


sandbox_group.add_command(packages_group)


@sandbox_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the cache has the guest.")
@handle_errors
def build_command(force: bool) -> None:
    """Build the guest with componentize-py and compile it for this machine (cached)."""
    from ..sandbox.wasm.build import build_guest
    from ..sandbox.wasm.runtime import WasmRuntime

    started = time.monotonic()
    wasm = build_guest(force=force)
    runtime = WasmRuntime.shared()
    click.echo(f"guest component: {wasm} ({wasm.stat().st_size / 1e6:.1f} MB)")
    click.echo(f"compiled guest is cached; ready in {time.monotonic() - started:.1f} s")
    prepared = runtime.instantiate()
    prepared.store.close()
    click.echo("a test instance started and ran its warm-up program")
