"""The two ways a feed can be refused: a whole file (``FeedError``, nothing is written) or
a single row (``RowRejected``, the row is skipped and its reason goes into the report)."""

from __future__ import annotations

from storefront.errors import ApplicationError


class FeedError(ApplicationError):
    """A feed file cannot be imported at all: unreadable, empty, or of an unknown layout.

    Raised while checking every path, before anything is written."""

    code = "feed_invalid"


class RowRejected(ValueError):
    """One row cannot be imported; ``reason`` says why, in words a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
