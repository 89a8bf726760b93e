"""Tests that play an operator corrupting the ledger by hand (to see reconciliation find
it) lift the append-only trigger for a moment, as only someone owning the table could."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from django.db import connection

append_only = importlib.import_module("membership.migrations.0003_point_entry_append_only")


@contextlib.contextmanager
def ledger_tampering() -> Iterator[None]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(append_only.PG_DROP)
        else:
            cursor.execute(append_only.SQLITE_DROP)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(append_only.PG_CREATE)
            else:
                cursor.execute(append_only.SQLITE_CREATE)
