"""Warehouses and the demo stock that `make run` and the benchmark start with.

Both writes are idempotent and additive: they create what is missing and never change a
row that exists, so running them again (a second `make run`) leaves staff edits and
stock movements alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from catalog.models import Product
from storefront.errors import ApplicationError

from ..models import Stock, Warehouse

# The two domestic warehouses of the demo: Incheon first, Pyeongtaek second.
DEMO_WAREHOUSES: tuple[tuple[str, str, int], ...] = (
    ("icn1", "인천 제1센터", 10),
    ("pyt1", "평택 센터", 20),
)
DEMO_REORDER_POINT = 5
DEMO_TARGET_LEVEL = 40
_PRODUCT_BATCH = 5000  # product ids read per round trip (SQLite caps query parameters)


class WarehouseNotFound(ApplicationError):
    code = "warehouse_not_found"


@dataclass(frozen=True)
class StockSeedResult:
    """What ``stock_seed_demo`` did: rows created now, rows that already existed
    (left untouched), and the products picked for stock."""

    created: int
    existing: int
    products: int


def warehouse_ensure(
    *, code: str, name: str, priority: int, is_domestic: bool = True
) -> tuple[Warehouse, bool]:
    """The warehouse with ``code``, created with the given values when missing.

    An existing warehouse is returned as it is (staff may have renamed it or changed its
    priority); the flag says whether it was created now.
    """
    with transaction.atomic():
        return Warehouse.objects.get_or_create(
            code=code,
            defaults={"name": name, "priority": priority, "is_domestic": is_domestic},
        )


def _demo_quantities(asin: str, slot: int) -> tuple[int, int]:
    """Units on hand and which of the warehouses holds them, fixed by the ASIN so every
    run (and every machine) picks the same: about 1 in 8 rows is under the reorder point."""
    mix = zlib.crc32(f"{asin}:{slot}".encode())
    if mix % 8 == 0:
        return mix % DEMO_REORDER_POINT, mix  # 0–4 units: low stock, some sold out
    return DEMO_REORDER_POINT + mix % 36, mix  # 5–40 units


def stock_seed_demo(*, warehouse_codes: Sequence[str], percent: int = 20) -> StockSeedResult:
    """Give about ``percent`` % of the active products stock in the given warehouses.

    The products are picked by a hash of their ASIN, so the choice is the same on every
    run and does not depend on import order. Most picked products sit in one warehouse
    (the first one more often), one in ten in both. Rows are written in bulk; a
    (warehouse, product) row that already exists is left exactly as it is.
    """
    if not 0 <= percent <= 100:
        raise ApplicationError("percent must be between 0 and 100", code="invalid_percent")
    warehouses = list(Warehouse.objects.filter(code__in=warehouse_codes).order_by("priority"))
    missing = set(warehouse_codes) - {w.code for w in warehouses}
    if missing:
        raise WarehouseNotFound(f"unknown warehouse codes: {', '.join(sorted(missing))}")
    if not warehouses:
        return StockSeedResult(created=0, existing=0, products=0)

    wanted: list[Stock] = []
    picked = 0
    for product_id, asin in Product.objects.filter(is_active=True).values_list("id", "asin"):
        if zlib.crc32(asin.encode()) % 100 >= percent:
            continue
        picked += 1
        on_hand, mix = _demo_quantities(asin, 0)
        choice = mix % 10
        if choice == 0 or len(warehouses) == 1:
            places = warehouses  # one in ten products in every warehouse
        elif choice <= 6:
            places = warehouses[:1]
        else:
            places = warehouses[1:2]
        for slot, warehouse in enumerate(places):
            units = on_hand if slot == 0 else _demo_quantities(asin, slot)[0]
            wanted.append(
                Stock(
                    warehouse=warehouse,
                    product_id=product_id,
                    on_hand=units,
                    allocated=0,
                    reorder_point=DEMO_REORDER_POINT,
                    target_level=DEMO_TARGET_LEVEL,
                )
            )

    with transaction.atomic():
        existing_pairs: set[tuple[int, int]] = set()
        product_ids = sorted({row.product_id for row in wanted})
        for start in range(0, len(product_ids), _PRODUCT_BATCH):
            existing_pairs.update(
                Stock.objects.filter(
                    warehouse__in=warehouses,
                    product_id__in=product_ids[start : start + _PRODUCT_BATCH],
                ).values_list("warehouse_id", "product_id")
            )
        new_rows = [
            row for row in wanted if (row.warehouse.pk, row.product_id) not in existing_pairs
        ]
        # ignore_conflicts: a row another process created meanwhile is kept as it is.
        Stock.objects.bulk_create(new_rows, batch_size=2000, ignore_conflicts=True)
    return StockSeedResult(
        created=len(new_rows), existing=len(wanted) - len(new_rows), products=picked
    )
