"""Structured logs: one JSON object per line, each carrying the id of the request it was
written during (``RequestIdMiddleware`` in storefront/middleware.py sets it).

Installed by ``LOGGING`` in settings: ``RequestIdFilter`` and the PCCC redaction filter
(orders/pccc.py) on every handler, ``JsonFormatter`` as the handler's format."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the request being served in this thread or task; None outside requests
# (Celery tasks, management commands).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as ``record.request_id`` (None outside a
    request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the exception text (``exc``, traceback included, as the filters left it) when
    there is one. Newlines in the
    message are escaped by JSON, so a record is always exactly one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        # The redaction filter leaves its masked traceback in exc_text: use it, never
        # re-render exc_info over it.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
