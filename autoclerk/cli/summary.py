"""`autoclerk summary`: outcome counts, throughput and latency from the database."""

from __future__ import annotations

from rich.console import Console

from infra.settings import Settings

console = Console()


def summary() -> None:
    """Print the summary of what the configured database holds."""
    from autoclerk.summary import collect_summary, summary_table
    from infra.db.engine import make_engine

    engine = make_engine(Settings().db.url)
    console.print(summary_table(collect_summary(engine)))
