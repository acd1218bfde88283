"""`autoclerk schemas export`: JSON Schema of every event envelope, for upstream
producers; with `--asyncapi`, an AsyncAPI 3.0 document of the configured topics."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

schemas_app = typer.Typer(no_args_is_help=True, help="Event schemas for upstream producers.")
console = Console(stderr=True)


@schemas_app.command("export")
def schemas_export(
    out: Annotated[
        Path | None,
        typer.Option(
            help="folder for one JSON Schema per event type (default schemas/json); with --asyncapi, a file"
        ),
    ] = None,
    asyncapi: Annotated[
        bool, typer.Option("--asyncapi", help="an AsyncAPI 3.0 document (JSON) of the topics instead")
    ] = False,
) -> None:
    """Write JSON Schemas of every event envelope, or the AsyncAPI document."""
    if asyncapi:
        from schemas.asyncapi import asyncapi_document
        from schemas.messages import Topics

        settings = Settings()
        document = asyncapi_document(
            topics=Topics.with_prefix(settings.kafka.topic_prefix),
            version=version("autoclerk"),
            bootstrap=settings.kafka.bootstrap,
        )
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if out is None:
            print(text, end="")
        else:
            out.write_text(text)
            console.print(
                f"wrote AsyncAPI {document['asyncapi']} for {len(document['channels'])} topics to {out}"
            )
        return
    from schemas.events import envelope_json_schemas

    folder = out or Path("schemas/json")
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in envelope_json_schemas().items():
        (folder / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {len(envelope_json_schemas())} schemas to {folder}")
