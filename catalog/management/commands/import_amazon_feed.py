"""`python manage.py import_amazon_feed PATH [PATH ...] [--report FILE.json]`.

Imports Amazon product feeds (the 2023 products layout with its categories file, the
PromptCloud 2020 layout; detected from each header) through
``catalog.services.feed_import``. Prints one summary line; ``--report`` writes the JSON
report ``{"created", "updated", "unchanged", "skipped", "skipped_rows": [{"file", "line",
"reason"}]}`` where ``file`` is the path as given here. A file that cannot be imported at
all is an error with a non-zero exit, before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Product
from catalog.services.feed_import import feed_import
from storefront.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Import Amazon product feeds (2023 products + categories, PromptCloud 2020), "
        "upserting products by ASIN. Bad rows are skipped with their reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="CSV feed files")
        parser.add_argument(
            "--report",
            type=Path,
            metavar="FILE.json",
            help="write the counts and every skipped row (file, line, reason) as JSON",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        parser.add_argument(
            "--source",
            choices=Product.Source.values,
            help="record this product source instead of the one the layout implies",
        )

    def handle(self, *args, paths: list[Path], report: Path | None = None, **options):
        verbosity = options["verbosity"]
        if report is not None and not report.parent.is_dir():
            raise CommandError(f"--report: the folder {report.parent} does not exist")
        progress = verbosity >= 1 and not options["no_progress"]
        try:
            result = feed_import(paths=paths, progress=progress, source=options["source"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

        if report is not None:
            report.write_text(
                json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        if verbosity >= 1:
            self.stdout.write(result.summary())
        if verbosity >= 2:
            for row in result.skipped_rows:
                self.stdout.write(f"  skipped {row.file}:{row.line}: {row.reason}")
