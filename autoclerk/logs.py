"""Log configuration for every process: text for people, JSON for log shippers.

stdlib logging with python-json-logger's formatter rather than structlog: every module
already logs through `logging.getLogger`, faust and mode configure stdlib logging with a
dictConfig we can hand them, and JSON is only a formatter away. structlog would wrap the
same stdlib handlers and add a second API for nothing we need.

Every line of a document's processing carries `document_id` and `correlation_id` (from
`agents.telemetry`'s context variables, set once the envelope is decoded). Document text
is never logged: log calls name documents by id, and messages are not logged whole.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from agents.telemetry import correlation_id_var, document_id_var
from infra.settings import LogSettings

__all__ = ["DocumentContext", "configure_logging", "logging_config"]

_TEXT = "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"
_JSON = "%(asctime)s %(levelname)s %(name)s %(message)s"


class DocumentContext(logging.Filter):
    """Adds the current document's ids to every record (as fields, and for text as `context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        doc, corr = document_id_var.get(), correlation_id_var.get()
        record.document_id = doc
        record.correlation_id = corr
        record.context = f" [doc={doc} corr={corr}]" if doc else ""
        return True


class _JsonContext(logging.Filter):
    """The ids as fields of their own, only on lines about a document."""

    def filter(self, record: logging.LogRecord) -> bool:
        doc = document_id_var.get()
        if doc is not None:
            record.document_id = doc
            record.correlation_id = correlation_id_var.get()
        return True


def logging_config(settings: LogSettings) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the root logger (faust's worker takes it as is)."""
    json = settings.format == "json"
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if json
        else {"format": _TEXT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"document": {"()": _JsonContext if json else DocumentContext}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["document"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": settings.level, "handlers": ["default"]},
    }


def configure_logging(settings: LogSettings) -> None:
    logging.config.dictConfig(logging_config(settings))
