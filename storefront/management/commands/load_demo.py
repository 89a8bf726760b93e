"""`python manage.py load_demo`: the data `make run` starts with.

Imports the demo catalog shipped in catalog/demo_data/ and, when the folder
``settings.AMAZON_SAMPLE_DIR`` exists, the real Amazon samples; then makes sure the two
domestic warehouses exist and gives part of the catalog stock. Every step is idempotent:
a second run creates nothing and says the data is already loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Product
from catalog.services.feed_import import feed_import
from fulfillment.services.warehouses import DEMO_WAREHOUSES, stock_seed_demo, warehouse_ensure
from storefront.errors import ApplicationError

DEMO_DIR = Path(settings.BASE_DIR) / "catalog" / "demo_data"
DEMO_FILES = ("demo-products.csv", "demo-categories.csv")
# The real samples, products file first; a categories companion goes with its products.
SAMPLE_FILES = (
    "amazon-us-2023-products.csv",
    "amazon-us-2023-categories.csv",
    "amazon-us-2020-promptcloud.csv",
)


def _import_summary(report) -> str:
    counts = (
        f"{report.created:,} created, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.skipped:,} skipped"
    )
    if report.created == 0 and report.updated == 0:
        return f"already loaded ({counts})"
    return counts


class Command(BaseCommand):
    help = (
        "Load the demo catalog (and the real Amazon samples when present), create the two "
        "domestic warehouses and stock for part of the catalog. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-samples",
            action="store_true",
            help="do not import the real Amazon samples even if AMAZON_SAMPLE_DIR exists",
        )
        parser.add_argument(
            "--stock-percent",
            type=int,
            default=20,
            help="share of active products that get domestic stock (default 20)",
        )

    def handle(self, *args, no_samples: bool = False, stock_percent: int = 20, **options):
        progress = options["verbosity"] >= 1 and sys.stderr.isatty()
        try:
            demo = feed_import(
                paths=[DEMO_DIR / name for name in DEMO_FILES], source="demo", progress=progress
            )
            self.stdout.write(f"Demo catalog: {_import_summary(demo)}")

            sample_dir = Path(settings.AMAZON_SAMPLE_DIR)
            sample_paths = [sample_dir / name for name in SAMPLE_FILES]
            sample_paths = [path for path in sample_paths if path.is_file()]
            if no_samples:
                self.stdout.write("Amazon samples: skipped (--no-samples)")
            elif not sample_paths:
                self.stdout.write(
                    f"Amazon samples: none at {sample_dir} (set AMAZON_SAMPLE_DIR to import them)"
                )
            else:
                samples = feed_import(paths=sample_paths, progress=progress)
                self.stdout.write(f"Amazon samples ({sample_dir}): {_import_summary(samples)}")

            created = []
            for code, name, priority in DEMO_WAREHOUSES:
                warehouse, was_created = warehouse_ensure(code=code, name=name, priority=priority)
                if was_created:
                    created.append(warehouse.code)
            codes = [code for code, _, _ in DEMO_WAREHOUSES]
            state = f"created {', '.join(created)}" if created else "already there"
            self.stdout.write(f"Warehouses {', '.join(codes)}: {state}")

            stock = stock_seed_demo(warehouse_codes=codes, percent=stock_percent)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

        if stock.created:
            state = f"{stock.created:,} rows created, {stock.existing:,} already there"
        else:
            state = f"already loaded ({stock.existing:,} rows left as they are)"
        self.stdout.write(f"Stock for {stock.products:,} products: {state}")
        active = Product.objects.filter(is_active=True).count()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: {active:,} active products in the catalog.")
        )
