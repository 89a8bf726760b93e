"""Feed import: real Amazon US feeds (two layouts) upserted by ASIN. (Being built.)

Contract other code relies on:

    feed_import(*, paths: Sequence[Path], progress: bool = False, source: str | None = None)
        -> ImportReport

``ImportReport`` has ``created, updated, unchanged, skipped`` (ints), ``skipped_rows``
(``SkippedRow(file, line, reason)``) and ``as_dict()`` giving the JSON report
``{"created", "updated", "unchanged", "skipped", "skipped_rows": [{"file", "line", "reason"}]}``.
``source`` overrides the ``Product.source`` recorded (e.g. ``"demo"``); by default it
follows the detected layout. Raises ``FeedError`` (an ApplicationError) for an unreadable
file or an unknown layout before writing anything.
"""
