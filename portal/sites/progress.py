"""A live progress display for ``portal build`` on a terminal; plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["BuildProgress"]


class BuildProgress:
    """Shows each audience's state (staging, building, done) while the build runs."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.states: dict[str, tuple[str, float]] = {}
        self.live: Live | None = None

    def __enter__(self) -> BuildProgress:
        if self.console.is_terminal:
            self.live = Live(
                self._table(), console=self.console, refresh_per_second=4, transient=True
            )
            self.live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.__exit__(kind, value, tb)

    def update(self, audience: str, status: str) -> None:
        started = self.states.get(audience, (status, time.perf_counter()))[1]
        self.states[audience] = (status, started)
        if self.live is not None:
            self.live.update(self._table())
        elif status in ("building", "failed"):
            print(f"{audience}: {status}", file=sys.stderr, flush=True)

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for audience, (status, started) in self.states.items():
            mark = {"done": "[green]✓[/]", "failed": "[red]✗[/]"}.get(status, "[yellow]…[/]")
            table.add_row(mark, audience, status, f"{time.perf_counter() - started:5.1f} s")
        return table
