"""Running shoppers at once: real threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

JOIN_TIMEOUT_SECONDS = 60


def run_concurrently(calls: list[Callable[[], Any]], *, allow_errors: bool = False) -> list[Any]:
    """Run each call in its own thread, all released together by a barrier; return each
    call's result or the exception it raised, in call order. Every thread closes its
    database connection; a thread still running after the timeout fails the test (a
    deadlock the database did not break). Unless ``allow_errors``, any exception fails."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
            outcomes[index] = call()
        except Exception as exc:  # reported to the test thread
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_SECONDS)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads never finished (deadlock?): {stuck}"
    if not allow_errors:
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert not errors, errors
    return outcomes
