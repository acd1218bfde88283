"""`autoclerk schemas export`: JSON Schema of every event envelope, for upstream producers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

schemas_app = typer.Typer(no_args_is_help=True, help="Event schemas for upstream producers.")
console = Console()


@schemas_app.command("export")
def schemas_export(
    out: Annotated[Path, typer.Option(help="folder for one JSON Schema per event type")] = Path(
        "schemas/json"
    ),
) -> None:
    """Write JSON Schemas of every event envelope."""
    from schemas.events import envelope_json_schemas

    out.mkdir(parents=True, exist_ok=True)
    for name, schema in envelope_json_schemas().items():
        (out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {len(envelope_json_schemas())} schemas to {out}")
