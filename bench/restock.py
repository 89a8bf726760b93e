"""The restock scan benchmark: how long ``restock_scan`` takes over a big stock table on
PostgreSQL. Not a timed test: it measures, it does not pass or fail (it exits non-zero only
when the scan ordered something other than the needs the data was built with).

    python -m bench.restock                        # 100,000 stock rows, ~10 % low
    python -m bench.restock --stock 10000 --repeat 1      # a quick dry run

Steps: (1) drop and create a PostgreSQL database (default ``gs_bench_restock``) and
migrate; (2) write synthetic products (``bench.synth.product_rows``: titles and USD prices)
and N stock rows spread over a few domestic warehouses, ~10 % of them under their reorder
point, a share of those already partly on order from an earlier run, plus a history of
received replenishment lines (so the on-order lookup has rows to skip); ``VACUUM ANALYZE``;
(3) time the scan: ``--repeat`` runs rolled back (the same work each time), then the run
that commits, then a second run that finds everything on order and raises nothing; (4)
print the figures and write them to ``bench/results/restock-<UTC stamp>.json`` and ``.md``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench import synth
from bench.run import database_drop, database_recreate, django_setup, machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WAREHOUSE_CODES = ("icn", "pyt", "bsn", "gwj", "dgu", "gju", "ulsn", "jeju")
REORDER_POINT = 10
TARGET_LEVEL = 40
BATCH = 5000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.restock", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stock", type=int, default=100_000, help="stock rows")
    parser.add_argument(
        "--warehouses", type=int, default=4, help=f"domestic warehouses (≤ {len(WAREHOUSE_CODES)})"
    )
    parser.add_argument(
        "--low-percent", type=float, default=10, help="share of rows under the reorder point"
    )
    parser.add_argument(
        "--on-order-percent",
        type=float,
        default=30,
        help="share of the low rows already partly on order from an earlier run",
    )
    parser.add_argument(
        "--history", type=int, default=None, help="received replenishment lines (default N/2)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rolled-back timed scans first")
    parser.add_argument("--seed", type=int, default=1, help="data seed")
    parser.add_argument("--db", default="gs_bench_restock", help="database, dropped and created")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without the database",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if not 1 <= args.warehouses <= len(WAREHOUSE_CODES):
        parser.error(f"--warehouses must be between 1 and {len(WAREHOUSE_CODES)}")
    if args.history is None:
        args.history = args.stock // 2
    return args


def _batched(items, size: int = BATCH):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def data_load(args: argparse.Namespace) -> dict:
    """Write warehouses, products, stock and purchase order history; return what the scan
    must order (``expected_lines``, ``expected_units``) and the row counts."""
    from django.db import connection

    from catalog.models import CustomsClass, Product
    from fulfillment.models import PurchaseOrder, PurchaseOrderLine, Stock, Warehouse

    rng = random.Random(args.seed)
    warehouses = [
        Warehouse.objects.create(code=code, name=f"Bench {code}", priority=10 * (i + 1))
        for i, code in enumerate(WAREHOUSE_CODES[: args.warehouses])
    ]
    product_count = -(-args.stock // len(warehouses))
    customs_class = CustomsClass.objects.order_by("pk").first()
    rows = synth.product_rows(count=product_count, seed=args.seed, asin_prefix="GR")
    for batch in _batched(rows):
        Product.objects.bulk_create(
            Product(
                asin=row["asin"],
                title=row["title"],
                source_price_usd=max(Decimal(row["price"]), Decimal("1.00")),
                weight_kg=Decimal("0.500"),
                customs_class=customs_class,
                review_count=int(row["reviews"]),
            )
            for row in batch
        )
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))

    # Stock rows: (warehouse, product) pairs, ~low_percent % under the reorder point.
    stock_rows = []
    for index in range(args.stock):
        warehouse = warehouses[index % len(warehouses)]
        product_id = product_ids[index // len(warehouses)]
        if rng.random() * 100 < args.low_percent:
            on_hand = rng.randrange(0, 30)
            held = rng.randrange(0, on_hand + 1)
            available = rng.randrange(0, REORDER_POINT)
            held = max(0, min(held, on_hand - available))
            on_hand = available + held
        else:
            held = rng.randrange(0, 5)
            on_hand = rng.randrange(REORDER_POINT, 120) + held
        allocated = rng.randrange(0, held + 1)
        stock_rows.append((warehouse.pk, product_id, on_hand, allocated, held - allocated))
    for batch in _batched(stock_rows):
        Stock.objects.bulk_create(
            Stock(
                warehouse_id=w,
                product_id=p,
                on_hand=on_hand,
                allocated=allocated,
                reserved=reserved,
                reorder_point=REORDER_POINT,
                target_level=TARGET_LEVEL,
            )
            for w, p, on_hand, allocated, reserved in batch
        )

    # An earlier run: some of the low rows are partly on order (submitted, 0–2 received).
    earlier = {
        w.pk: PurchaseOrder.objects.create(
            kind=PurchaseOrder.Kind.REPLENISHMENT,
            warehouse=w,
            status=PurchaseOrder.Status.SUBMITTED,
            run_key="bench-earlier",
            idempotency_key=f"bench-earlier-{w.pk}",
        )
        for w in warehouses
    }
    on_order: dict[tuple[int, int], int] = {}
    pending_lines = []
    for w, p, on_hand, allocated, reserved in stock_rows:
        available = on_hand - allocated - reserved
        if available < REORDER_POINT and rng.random() * 100 < args.on_order_percent:
            quantity = rng.randrange(1, TARGET_LEVEL)
            received = rng.randrange(0, min(quantity, 3))
            on_order[(w, p)] = quantity - received
            pending_lines.append(
                PurchaseOrderLine(
                    purchase_order=earlier[w],
                    product_id=p,
                    quantity=quantity,
                    received=received,
                    expected_unit_price_usd=Decimal("10.00"),
                )
            )
    for batch in _batched(pending_lines):
        PurchaseOrderLine.objects.bulk_create(batch)

    # History: received replenishments (done lines), which the on-order lookup must skip.
    history_orders = [
        PurchaseOrder.objects.create(
            kind=PurchaseOrder.Kind.REPLENISHMENT,
            warehouse=w,
            status=PurchaseOrder.Status.RECEIVED,
            run_key=f"bench-history-{n}",
            idempotency_key=f"bench-history-{w.pk}-{n}",
        )
        for n in range(10)
        for w in warehouses
    ]
    history = (
        PurchaseOrderLine(
            purchase_order=history_orders[rng.randrange(len(history_orders))],
            product_id=product_ids[rng.randrange(len(product_ids))],
            quantity=20,
            received=20,
            status=PurchaseOrderLine.Status.DONE,
            expected_unit_price_usd=Decimal("10.00"),
        )
        for _ in range(args.history)
    )
    for batch in _batched(history):
        PurchaseOrderLine.objects.bulk_create(batch)

    expected_lines = expected_units = low = 0
    for w, p, on_hand, allocated, reserved in stock_rows:
        available = on_hand - allocated - reserved
        if available >= REORDER_POINT:
            continue
        low += 1
        need = TARGET_LEVEL - available - on_order.get((w, p), 0)
        if need > 0:
            expected_lines += 1
            expected_units += need

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "warehouses": len(warehouses),
        "products": len(product_ids),
        "stock_rows": len(stock_rows),
        "low_rows": low,
        "low_rows_partly_on_order": len(pending_lines),
        "history_lines": args.history,
        "expected_lines": expected_lines,
        "expected_units": expected_units,
    }


def scan_timed(*, run_key: str, rollback: bool) -> tuple[float, object, int, float]:
    """Run the scan once; return (seconds, result, queries, seconds spent in SQL as the
    driver saw it). Rolled back when asked, so the next run does the same work."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from fulfillment.services.restock import restock_scan

    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        if rollback:
            with transaction.atomic():
                result = restock_scan(run_key=run_key)
                elapsed = time.perf_counter() - began
                transaction.set_rollback(True)
        else:
            result = restock_scan(run_key=run_key)
            elapsed = time.perf_counter() - began
    sql_seconds = sum(float(query["time"]) for query in queries.captured_queries)
    return elapsed, result, len(queries.captured_queries), sql_seconds


def needs_plan() -> str:
    """``EXPLAIN ANALYZE`` of the scan's one read, for the record."""
    from django.db import connection

    from fulfillment.services.restock import restock_needs_sql

    sql, params = restock_needs_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def render_markdown(result: dict) -> str:
    data, scans = result["data"], result["scans"]
    lines = [
        f"# Restock scan — {result['started_at']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Machine: {result['machine'].get('cpu', '?')}, {result['machine'].get('cores', '?')}"
        f" cores; PostgreSQL {result['machine'].get('postgresql', '?')}; "
        f"commit {result['machine'].get('commit', '?')}; load average before "
        f"{result['machine'].get('loadavg_before', '?')}",
        f"- Data: {data['stock_rows']:,} stock rows ({data['products']:,} products × "
        f"{data['warehouses']} warehouses), {data['low_rows']:,} under the reorder point "
        f"({data['low_rows_partly_on_order']:,} partly on order), "
        f"{data['history_lines']:,} received lines of history; "
        f"loaded in {result['load_seconds']} s",
        "",
        "| run | seconds | of which SQL | queries | purchase orders | lines | units |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scan in scans:
        lines.append(
            f"| {scan['label']} | {scan['seconds']:.3f} | {scan['sql_seconds']:.3f} | "
            f"{scan['queries']} | "
            f"{scan['purchase_orders']} | {scan['lines']:,} | {scan['units']:,} |"
        )
    lines += [
        "",
        f"Expected lines {data['expected_lines']:,} (units {data['expected_units']:,}): "
        f"{'matched' if result['matched'] else 'NOT matched'}.",
        "",
        "Plan of the needs query:",
        "",
        "```",
        result["plan"],
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = datetime.now(UTC)
    machine = machine_info()
    print(f"[1/4] database {args.db}: recreate, migrate", flush=True)
    machine["postgresql"] = database_recreate(pg_url=args.pg_url, name=args.db)
    django_setup(
        {
            "DJANGO_SETTINGS_MODULE": "storefront.settings",
            "DATABASE_URL": f"{args.pg_url.rstrip('/')}/{args.db}",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"[2/4] writing {args.stock:,} stock rows", flush=True)
        began = time.perf_counter()
        data = data_load(args)
        load_seconds = round(time.perf_counter() - began, 1)
        print(f"      {data} in {load_seconds} s", flush=True)

        print("[3/4] timing the scan", flush=True)
        scans = []

        def record(label: str, seconds: float, scan, queries: int, sql_seconds: float) -> None:
            scans.append(
                {
                    "label": label,
                    "seconds": round(seconds, 4),
                    "sql_seconds": round(sql_seconds, 4),
                    "queries": queries,
                    "purchase_orders": len(scan.purchase_order_ids),
                    "lines": scan.lines,
                    "units": scan.units,
                }
            )
            print(f"      {label}: {seconds:.3f} s, {queries} queries, {scan.lines:,} lines")

        for n in range(args.repeat):
            record(
                f"first scan, rolled back ({n + 1})", *scan_timed(run_key="bench-1", rollback=True)
            )
        record("first scan, committed", *scan_timed(run_key="bench-1", rollback=False))
        committed = scans[-1]
        plan = needs_plan()
        for n in range(max(args.repeat, 1)):
            record(
                f"second scan, nothing to order ({n + 1})",
                *scan_timed(run_key=f"bench-2-{n}", rollback=False),
            )
        matched = (
            committed["lines"] == data["expected_lines"]
            and committed["units"] == data["expected_units"]
            and all(scan["lines"] == 0 for scan in scans[args.repeat + 1 :])
        )
        first = [scan["seconds"] for scan in scans[: args.repeat + 1]]
        second = [scan["seconds"] for scan in scans[args.repeat + 1 :]]
        result = {
            "stamp": started.strftime("%Y%m%d-%H%M%S"),
            "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join(["python", "-m", "bench.restock", *argv]),
            "machine": machine,
            "data": data,
            "load_seconds": load_seconds,
            "scans": scans,
            "first_scan_median_seconds": round(statistics.median(first), 4),
            "second_scan_median_seconds": round(statistics.median(second), 4),
            "matched": matched,
            "plan": plan,
        }
        print("[4/4] results", flush=True)
        markdown = render_markdown(result)
        print(markdown)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        base = args.results_dir / f"restock-{result['stamp']}"
        base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        base.with_suffix(".md").write_text(markdown)
        print(f"written {base}.json and .md")
        return 0 if matched else 1
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(pg_url=args.pg_url, name=args.db)


if __name__ == "__main__":
    sys.exit(main())
