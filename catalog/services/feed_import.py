"""Feed import: real Amazon US feeds (two layouts) upserted by ASIN.

Contract other code relies on:

    feed_import(*, paths: Sequence[Path], progress: bool = False, source: str | None = None)
        -> ImportReport

``ImportReport`` has ``created, updated, unchanged, skipped`` (ints), ``skipped_rows``
(``SkippedRow(file, line, reason)``) and ``as_dict()`` giving the JSON report
``{"created", "updated", "unchanged", "skipped", "skipped_rows": [{"file", "line", "reason"}]}``.
``source`` overrides the ``Product.source`` recorded (e.g. ``"demo"``); by default it
follows the detected layout. Raises ``FeedError`` (an ApplicationError) for an unreadable
file or an unknown layout before writing anything.

What it guarantees:

- Every path is checked first (readable, has a header, known layout; a 2023 products file
  has its categories file: among ``paths``, or a sibling CSV whose header is
  ``id,category_name``). Any problem raises ``FeedError`` and nothing is written.
- Products are upserted by ASIN in chunks (one query fetches a chunk's existing rows, then
  ``bulk_create`` / ``bulk_update``), all in one transaction. Whether a product is
  created, updated or unchanged is decided by ``Product.source_hash``, a fingerprint of the
  values the import writes: running the same files twice changes nothing the second time.
  ``is_active`` of an existing product is never touched (staff may have switched it off).
- A row is never lost silently: it is imported or listed in ``skipped_rows`` with the
  file (the path as it was given, e.g. on the command line; a categories file found next
  to a products file is named by that products file's folder), the physical line it
  starts on (the header is line 1) and the reason. The same ASIN twice in one run (in
  one file or across files): the later row is skipped, naming the first one's file:line.
- Missing weights are estimated (``weight_estimated=True``) from the nearest category's
  ``typical_weight_kg``, else the customs class's. The customs class comes from the source
  category path through the staff-edited rules (``catalog.services.categories``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TypeVar

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from catalog import selectors
from catalog.importing.errors import FeedError, RowRejected
from catalog.importing.layouts import (
    AMAZON_2023,
    AMAZON_2023_CATEGORIES,
    Layout,
    ProductRow,
    RowParser,
    amazon_2023_row,
    categories_entry,
    layout_detect,
    layout_mismatch,
    promptcloud_2020_row,
)
from catalog.importing.reader import CsvRecordReader, open_feed, read_header
from catalog.models import PRODUCT_CONTENT_FIELDS, Product

from .categories import CategoryTree, CustomsMapping

__all__ = ["FeedError", "ImportReport", "SkippedRow", "feed_import"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Rows per write: one query fetches a chunk's existing products, then bulk writes.
CHUNK_SIZE = 2000
WRITE_BATCH_SIZE = 1000
# What an import writes (and fingerprints). Never is_active: that is staff's decision.
IMPORTED_FIELDS = (
    *PRODUCT_CONTENT_FIELDS,
    "source",
    "source_category_path",
    "source_url",
)
UPDATED_FIELDS = (*IMPORTED_FIELDS, "source_hash", "updated_at")


@dataclass(frozen=True)
class SkippedRow:
    """A row the import did not take: where it is and why."""

    file: str
    line: int
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "reason": self.reason}


@dataclass
class ImportReport:
    """What an import did. ``files`` are the product feed files read (as given)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    categories_created: int = 0
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return len(self.skipped_rows)

    @property
    def rows(self) -> int:
        """Rows read (imported or skipped), headers and blank lines not counted."""
        return self.created + self.updated + self.unchanged + self.skipped

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_rows": [row.as_dict() for row in self.skipped_rows],
        }

    def summary(self) -> str:
        """One line for people: what was read, how fast, and what happened to it."""
        files = f"{len(self.files):,} file{'s' if len(self.files) != 1 else ''}"
        return (
            f"Imported {self.rows:,} rows from {files} in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s): {self.created:,} created, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.skipped:,} skipped."
        )


@dataclass(frozen=True)
class _FeedFile:
    path: Path
    label: str
    layout: Layout
    header: list[str]


def _check_files(paths: Sequence[Path]) -> list[_FeedFile]:
    """Open every path, read its header and recognise its layout (FeedError if not)."""
    if not paths:
        raise FeedError("No feed files given.")
    files: list[_FeedFile] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        key = path.resolve()
        if key in seen:
            continue  # the same file twice is read once
        seen.add(key)
        header = read_header(path)
        layout = layout_detect(header)
        if layout is None:
            raise FeedError(f"{path}: {layout_mismatch(header)}")
        files.append(_FeedFile(path, str(given), layout, header))
    return files


def _sibling_categories(products: _FeedFile) -> _FeedFile | None:
    """A categories file (header ``id,category_name``) next to a 2023 products file; with
    several, the one whose name shares the longest prefix with the products file's."""
    candidates = []
    for sibling in sorted(products.path.parent.glob("*.csv")):
        if sibling.resolve() == products.path.resolve():
            continue
        try:
            header = read_header(sibling)
        except FeedError:
            continue
        if layout_detect(header) is AMAZON_2023_CATEGORIES:
            label = str(Path(products.label).parent / sibling.name)
            candidates.append(_FeedFile(sibling, label, AMAZON_2023_CATEGORIES, header))
    if not candidates:
        return None

    def shared_prefix(candidate: _FeedFile) -> int:
        size = 0
        for mine, theirs in zip(candidate.path.name, products.path.name, strict=False):
            if mine != theirs:
                break
            size += 1
        return size

    return max(candidates, key=shared_prefix)


def _plan(paths: Sequence[Path]) -> tuple[list[_FeedFile], list[_FeedFile]]:
    """Product files to import and the categories files they need, all checked."""
    files = _check_files(paths)
    categories = [feed for feed in files if feed.layout is AMAZON_2023_CATEGORIES]
    products = [feed for feed in files if feed.layout.holds_products]
    if not categories:
        found: dict[Path, _FeedFile] = {}
        for feed in products:
            if feed.layout is not AMAZON_2023:
                continue
            sibling = _sibling_categories(feed)
            if sibling is None:
                raise FeedError(
                    f"{feed.label}: a 2023 products file needs its categories file "
                    "(id,category_name): pass it too, or put it in the same folder."
                )
            found.setdefault(sibling.path.resolve(), sibling)
        categories = list(found.values())
    return products, categories


@contextmanager
def _opened(feed: _FeedFile, *, progress: bool) -> Iterator[BinaryIO]:
    """The feed's bytes, through a tqdm progress bar on stderr when ``progress``."""
    with open_feed(feed.path) as stream:
        size = feed.path.stat().st_size
        with tqdm.wrapattr(
            stream,
            "read",
            total=size,
            desc=feed.path.name,
            disable=not progress,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
        ) as wrapped:
            yield wrapped


def _records(feed: _FeedFile, *, progress: bool) -> Iterator[tuple[int, list[str] | None, str]]:
    """``(line, fields, problem)`` for each record after the header."""
    with _opened(feed, progress=progress) as stream:
        reader = CsvRecordReader(stream)
        records = iter(reader)
        next(records, None)  # the header, checked before
        reader.expected_fields = len(feed.header)
        for record in records:
            yield record.line, record.fields, record.problem or ""


def _read_categories(
    feeds: list[_FeedFile], report: ImportReport, *, progress: bool
) -> dict[str, str]:
    """Category id → full path from the categories files; bad entries are skipped rows."""
    paths: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for feed in feeds:
        parse = categories_entry(feed.header)
        for line, fields, problem in _records(feed, progress=progress):
            try:
                if fields is None:
                    raise RowRejected(problem)
                category_id, path = _parse_safely(parse, fields)
                if category_id in paths and paths[category_id] != path:
                    raise RowRejected(
                        f"duplicate category id {category_id}, first seen at "
                        f"{first_seen[category_id]}"
                    )
            except RowRejected as exc:
                report.skipped_rows.append(SkippedRow(feed.label, line, exc.reason))
                continue
            paths[category_id] = path
            first_seen.setdefault(category_id, f"{feed.label}:{line}")
    return paths


def _parse_safely(parse: Callable[[list[str]], T], fields: list[str]) -> T:
    """Parse one record; a bug or a value no check foresaw costs this row, not the import."""
    try:
        return parse(fields)
    except RowRejected:
        raise
    except Exception as exc:
        logger.exception("feed record could not be parsed")
        raise RowRejected(f"could not be read ({type(exc).__name__}: {exc})") from exc


def _fingerprint(values: dict) -> str:
    """A stable digest of the imported values (40 hex digits, as Product.source_hash)."""
    canonical = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=20).hexdigest()


class _ProductWriter:
    """Turns parsed rows into product values and writes them a chunk at a time."""

    def __init__(self, *, report: ImportReport, source: str | None) -> None:
        self.report = report
        self.source = source
        self.customs = CustomsMapping.load()
        self.categories = CategoryTree()

    def values(self, row: ProductRow, *, source: str) -> dict:
        path = row.category_path
        category = self.categories.get(path) if path else None
        customs_class = self.customs.class_for_path(path)
        weight, estimated = row.weight_kg, False
        if weight is None:
            estimated = True
            weight = self.categories.typical_weight_kg(path) if path else None
            weight = weight or customs_class.typical_weight_kg
        return {
            "title": row.title,
            "brand": row.brand,
            "description": row.description,
            "bullet_points": list(row.bullet_points),
            "image_urls": list(row.image_urls),
            "source_price_usd": row.price_usd,
            "list_price_usd": row.list_price_usd,
            "weight_kg": Decimal(weight).quantize(Decimal("0.001")),
            "weight_estimated": estimated,
            "rating": row.rating,
            "review_count": row.review_count,
            "bought_last_month": row.bought_last_month,
            "is_best_seller": row.is_best_seller,
            "category_id": category.pk if category is not None else None,
            "customs_class_id": customs_class.pk,
            "source": source,
            "source_category_path": path,
            "source_url": row.source_url,
        }

    def write(self, chunk: list[ProductRow], *, layout_source: str) -> None:
        """Create, update or leave alone each product of a chunk (a few queries)."""
        if not chunk:
            return
        self.report.categories_created += self.categories.ensure(
            {row.category_path for row in chunk if row.category_path}
        )
        source = self.source or layout_source
        existing = {
            product.asin: product
            for product in Product.objects.filter(asin__in=[row.asin for row in chunk]).only(
                "id", "asin", "source_hash"
            )
        }
        now = timezone.now()
        to_create: list[Product] = []
        to_update: list[Product] = []
        for row in chunk:
            values = self.values(row, source=source)
            digest = _fingerprint(values)
            product = existing.get(row.asin)
            if product is None:
                to_create.append(Product(asin=row.asin, source_hash=digest, **values))
            elif product.source_hash == digest:
                self.report.unchanged += 1
            else:
                for name, value in values.items():
                    setattr(product, name, value)
                product.source_hash = digest
                # bulk_update does not run auto_now: set it here.
                product.updated_at = now
                to_update.append(product)
        Product.objects.bulk_create(to_create, batch_size=WRITE_BATCH_SIZE)
        Product.objects.bulk_update(to_update, UPDATED_FIELDS, batch_size=WRITE_BATCH_SIZE)
        self.report.created += len(to_create)
        self.report.updated += len(to_update)


def _row_parser(feed: _FeedFile, categories: dict[str, str]) -> RowParser:
    if feed.layout is AMAZON_2023:
        return amazon_2023_row(feed.header, categories=categories)
    return promptcloud_2020_row(feed.header)


def feed_import(
    *, paths: Sequence[Path], progress: bool = False, source: str | None = None
) -> ImportReport:
    """Import Amazon product feeds (layouts detected from their headers), upserting
    products by ASIN. See the module docstring for what is guaranteed."""
    started = time.perf_counter()
    if source is not None and source not in Product.Source.values:
        raise FeedError(
            f"Unknown product source {source!r}; one of: {', '.join(Product.Source.values)}."
        )
    products, categories = _plan(paths)
    report = ImportReport(files=[feed.label for feed in products])

    with transaction.atomic():
        writer = _ProductWriter(report=report, source=source)
        category_paths = _read_categories(categories, report, progress=progress)
        first_seen: dict[str, str] = {}
        for feed in products:
            parse = _row_parser(feed, category_paths)
            layout_source = feed.layout.source or Product.Source.MANUAL
            chunk: list[ProductRow] = []
            for line, fields, problem in _records(feed, progress=progress):
                try:
                    if fields is None:
                        raise RowRejected(problem)
                    row = _parse_safely(parse, fields)
                    if row.asin in first_seen:
                        raise RowRejected(
                            f"duplicate ASIN {row.asin}, first seen at {first_seen[row.asin]}"
                        )
                except RowRejected as exc:
                    report.skipped_rows.append(SkippedRow(feed.label, line, exc.reason))
                    continue
                first_seen[row.asin] = f"{feed.label}:{line}"
                chunk.append(row)
                if len(chunk) >= CHUNK_SIZE:
                    writer.write(chunk, layout_source=layout_source)
                    chunk = []
            writer.write(chunk, layout_source=layout_source)

    selectors.category_cache_clear()
    report.seconds = time.perf_counter() - started
    return report
