"""The allocation throughput benchmark: how many paid orders per second ``order_allocate``
turns into allocations and cross-border purchase-order lines when many clients allocate
orders for the same few hot products at once, on PostgreSQL, against the ceiling of a plain
single-row ``UPDATE`` of the same stock rows measured in the same run. Not a timed test: it
measures, it does not pass or fail (it exits non-zero only when the allocation left the data
wrong: a stock row over its on-hand units, an order line not fully allocated or bought, a
call that raised).

    python -m bench.allocation                       # 16 clients, 2,000 orders, 5 products
    python -m bench.allocation --orders 200          # a quick dry run

Steps: (1) drop and create a PostgreSQL database (default ``gs_bench_alloc``) and migrate;
(2) write the hot products, their domestic stock split over two warehouses (about a quarter
of the units the orders ask for, so some orders ship from Korea and most cross-border), and
N paid orders of 1–2 lines on those products, each line promised the split a one-by-one
allocation in order-number order would give (what checkout showed the shopper); time one
client alone on a few orders, rolled back; (3) the clients (threads, each with its own
connection) take the orders from one queue in that order and call ``order_allocate`` for
each, timing every call; (4) verify the result; (5) the same clients run a plain autocommit
``UPDATE … SET allocated = allocated + 1`` on the same stock rows (the units put back first,
the rows restored after), one statement per call: the ceiling; (6) print the figures and
write them to ``bench/results/allocation-<UTC stamp>.json`` and ``.md``. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.run import database_drop, database_recreate, django_setup, machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WAREHOUSES = (("icn", 10), ("pyt", 20))
# The first warehouse holds this share of a product's domestic units, the second the rest.
FIRST_WAREHOUSE_SHARE = 0.6
UNIT_PRICE_KRW = 30000
UNIT_PRICE_USD = Decimal("19.99")
PCCC = "P123456789012"
JOIN_TIMEOUT_SECONDS = 600


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.allocation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (threads)")
    parser.add_argument("--orders", type=int, default=2000, help="paid orders to allocate")
    parser.add_argument("--hot-products", type=int, default=5, help="products every order buys")
    parser.add_argument(
        "--max-quantity", type=int, default=3, help="units per order line, 1 to this"
    )
    parser.add_argument(
        "--stock-percent",
        type=float,
        default=25,
        help="domestic units as a share of the units the orders ask for, per product",
    )
    parser.add_argument(
        "--ceiling-calls",
        type=int,
        default=None,
        help="UPDATE statements for the ceiling (default: 5 × orders)",
    )
    parser.add_argument("--seed", type=int, default=1, help="data seed")
    parser.add_argument("--db", default="gs_bench_alloc", help="database, dropped and created")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without the database",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.orders < 1 or args.hot_products < 1 or args.max_quantity < 1:
        parser.error("--clients, --orders, --hot-products and --max-quantity must be ≥ 1")
    if args.ceiling_calls is None:
        args.ceiling_calls = 5 * args.orders
    return args


# --- Data ----------------------------------------------------------------------------------


def order_plan(args: argparse.Namespace) -> list[list[tuple[int, int]]]:
    """Each order's lines as (hot product index, quantity): 1–2 lines on distinct products."""
    rng = random.Random(args.seed)
    plan = []
    for _ in range(args.orders):
        count = min(rng.choice((1, 2)), args.hot_products)
        products = rng.sample(range(args.hot_products), count)
        plan.append([(p, rng.randint(1, args.max_quantity)) for p in sorted(products)])
    return plan


def data_load(args: argparse.Namespace) -> dict:
    """Write the warehouses, hot products, their stock and the paid orders; return the ids
    the run needs and what was written."""
    from django.db import connection
    from django.utils import timezone

    from catalog.models import CustomsClass, Product
    from fulfillment.models import Stock, Warehouse
    from orders.models import Order, OrderLine
    from orders.pccc import pccc_encrypt

    plan = order_plan(args)
    demand = [0] * args.hot_products
    for lines in plan:
        for product, quantity in lines:
            demand[product] += quantity
    supply = [max(1, round(units * args.stock_percent / 100)) for units in demand]

    warehouses = [
        Warehouse.objects.create(code=code, name=f"Bench {code}", priority=priority)
        for code, priority in WAREHOUSES
    ]
    customs_class = CustomsClass.objects.order_by("pk").first()
    products = Product.objects.bulk_create(
        Product(
            asin=f"GA{index:08d}",
            title=f"Bench hot product {index + 1}",
            source_price_usd=UNIT_PRICE_USD,
            weight_kg=Decimal("0.500"),
            customs_class=customs_class,
        )
        for index in range(args.hot_products)
    )
    stock_rows = []
    for product, units in zip(products, supply, strict=True):
        first = round(units * FIRST_WAREHOUSE_SHARE)
        for warehouse, on_hand in zip(warehouses, (first, units - first), strict=True):
            stock_rows.append(Stock(warehouse=warehouse, product=product, on_hand=on_hand))
    Stock.objects.bulk_create(stock_rows)

    # What checkout promised: the split a one-by-one allocation in order would give.
    left = list(supply)
    now = timezone.now()
    pccc_encrypted = pccc_encrypt(PCCC)
    orders, order_lines = [], []
    for number, lines in enumerate(plan):
        splits = []
        for product, quantity in lines:
            domestic = min(left[product], quantity)
            left[product] -= domestic
            splits.append((product, quantity, domestic))
        items_krw = sum(q for _p, q, _d in splits) * UNIT_PRICE_KRW
        orders.append(
            Order(
                number=f"B{number:08d}",
                email=f"bench{number}@example.com",
                status=Order.Status.PAID,
                items_krw=items_krw,
                total_krw=items_krw,
                fx_selling_rate=Decimal("1390.0000"),
                fx_customs_rate=Decimal("1385.0000"),
                price_margin=Decimal("0.1000"),
                has_cross_border=any(q > d for _p, q, d in splits),
                pccc_encrypted=pccc_encrypted,
                pccc_last4=PCCC[-4:],
                customs_consent_at=now,
                recipient_name="홍길동",
                phone="+821012345678",
                postal_code="06236",
                road_address="서울특별시 강남구 테헤란로 152",
                payment_due_at=now + timedelta(minutes=30),
                paid_at=now,
            )
        )
        order_lines.append(splits)
    Order.objects.bulk_create(orders, batch_size=1000)
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order=order,
                product=products[product],
                asin=products[product].asin,
                title=products[product].title,
                quantity=quantity,
                domestic_quantity=domestic,
                cross_border_quantity=quantity - domestic,
                unit_price_krw=UNIT_PRICE_KRW,
                unit_price_usd=UNIT_PRICE_USD,
                line_total_krw=UNIT_PRICE_KRW * quantity,
                customs_class_code="other",
                duty_rate=Decimal("0.0800"),
                weight_kg=Decimal("0.500"),
            )
            for order, splits in zip(orders, order_lines, strict=True)
            for product, quantity, domestic in splits
        ),
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "order_ids": [order.pk for order in orders],
        "stock_ids": sorted(stock.pk for stock in stock_rows),
        "summary": {
            "orders": len(orders),
            "order_lines": sum(len(splits) for splits in order_lines),
            "orders_with_two_lines": sum(len(splits) == 2 for splits in order_lines),
            "hot_products": args.hot_products,
            "warehouses": len(warehouses),
            "stock_rows": len(stock_rows),
            "units_ordered": sum(demand),
            "domestic_units": sum(supply),
            "promised_domestic_units": sum(supply) - sum(left),
        },
    }


# --- Clients -------------------------------------------------------------------------------


def clients_run(*, clients: int, jobs: list, connect, call) -> dict:
    """Run ``call(handle, job)`` for every job from ``clients`` threads that take jobs from
    one queue in order. Each thread opens its own connection with ``connect()`` (returning a
    handle and a closer) before a barrier releases them all. Return the wall time from the
    release to the last call, each call's latency, the calls' results and the errors."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        work.put(job)
    barrier = threading.Barrier(clients + 1)
    latencies: list[float] = []
    results: list = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        handle, close = connect()
        mine_latencies, mine_results, mine_errors = [], [], []
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
            while True:
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    break
                began = time.perf_counter()
                try:
                    mine_results.append(call(handle, job))
                except Exception as exc:  # counted and reported, the run goes on
                    mine_errors.append(f"{type(exc).__name__}: {exc}")
                mine_latencies.append(time.perf_counter() - began)
        finally:
            close()
            with lock:
                latencies.extend(mine_latencies)
                results.extend(mine_results)
                errors.extend(mine_errors)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_SECONDS)
    wall = time.perf_counter() - began
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        errors.append(f"{stuck} client(s) still running after {JOIN_TIMEOUT_SECONDS} s")
    return {"wall": wall, "latencies": latencies, "results": results, "errors": errors}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def figures(*, calls: int, run: dict) -> dict:
    latencies = run["latencies"]
    return {
        "calls": calls,
        "errors": len(run["errors"]),
        "seconds": round(run["wall"], 3),
        "per_second": round(calls / run["wall"], 1) if run["wall"] else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(_percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies, default=0) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
    }


# Each client session's state; for a session waiting on a lock, the table of the row it
# waits for (a row-lock waiter holds or waits for a ``tuple`` lock on that row).
SESSIONS_SQL = """
SELECT a.state, a.wait_event_type, a.wait_event,
       (SELECT t.relation::regclass::text FROM pg_locks t
         WHERE t.pid = a.pid AND t.locktype = 'tuple' LIMIT 1)
  FROM pg_stat_activity a
 WHERE a.datname = %s AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
"""


class ActivitySampler:
    """Samples what the benchmark database's sessions are doing (``pg_stat_activity``) every
    ``interval`` seconds from its own connection: waiting on a lock, running a statement, or
    idle in a transaction (waiting for the client, i.e. Python), to tell where the time goes."""

    def __init__(self, *, dsn: str, database: str, interval: float = 0.02):
        self.dsn, self.database, self.interval = dsn, database, interval
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg2

        handle = psycopg2.connect(self.dsn)
        handle.autocommit = True
        try:
            with handle.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(SESSIONS_SQL, (self.database,))
                    self.samples += 1
                    for state, wait_type, wait_event, table in cursor.fetchall():
                        if state == "active" and wait_type == "Lock":
                            key = f"waiting on a lock ({wait_event}) on a {table or '?'} row"
                        elif state == "active":
                            key = "running a statement" + (
                                f" ({wait_type}: {wait_event})" if wait_type else ""
                            )
                        elif state == "idle in transaction":
                            key = "idle in transaction (waiting for the client)"
                        else:
                            key = state or "?"
                        self.counts[key] = self.counts.get(key, 0) + 1
                    self._stop.wait(self.interval)
        finally:
            handle.close()

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def summary(self) -> dict:
        """Average sessions in each state per sample (they add up to the clients)."""
        if not self.samples:
            return {}
        ordered = sorted(self.counts.items(), key=lambda item: -item[1])
        return {key: round(count / self.samples, 2) for key, count in ordered}


def allocation_alone(*, order_ids: list[int], count: int = 20) -> dict:
    """One client on its own: ``order_allocate`` for the first ``count`` orders, each in a
    transaction rolled back (nothing stays allocated; the allocation's own transaction is a
    savepoint here). Median wall time, time in SQL as the driver saw it, statements."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from fulfillment.services.allocation import order_allocate

    walls, sqls, statements = [], [], []
    for order_id in order_ids[:count]:
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            began = time.perf_counter()
            order_allocate(order_id=order_id)
            walls.append(time.perf_counter() - began)
            transaction.set_rollback(True)
        sqls.append(sum(float(query["time"]) for query in queries.captured_queries))
        # Less the savepoint pair the outer atomic adds and its own BEGIN/ROLLBACK.
        statements.append(
            sum(
                not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
                for query in queries.captured_queries
            )
        )
    return {
        "orders": len(walls),
        "median_ms": round(statistics.median(walls) * 1000, 2),
        "median_sql_ms": round(statistics.median(sqls) * 1000, 2),
        "statements": f"{min(statements)}–{max(statements)}",
    }


def allocation_run(*, args: argparse.Namespace, order_ids: list[int]) -> tuple[dict, dict]:
    """Allocate every order from ``args.clients`` threads (Django connections are per
    thread); return the figures and what the results say."""
    from django.db import connection

    from fulfillment.services.allocation import order_allocate

    def connect():
        connection.ensure_connection()
        return None, connection.close

    sampler = ActivitySampler(dsn=f"{args.pg_url.rstrip('/')}/{args.db}", database=args.db)
    with sampler:
        run = clients_run(
            clients=args.clients,
            jobs=order_ids,
            connect=connect,
            call=lambda _handle, order_id: order_allocate(order_id=order_id),
        )
    results = run["results"]
    outcome = {
        "created": sum(r.created for r in results),
        "not_created": sum(not r.created for r in results),
        "domestic_units": sum(r.domestic_units for r in results),
        "cross_border_units": sum(r.cross_border_units for r in results),
        "orders_all_domestic": sum(r.cross_border_units == 0 for r in results),
        "orders_with_cross_border": sum(r.cross_border_units > 0 for r in results),
        "orders_changed_from_promise": sum(bool(r.changed_lines) for r in results),
        "error_samples": run["errors"][:5],
        "sessions": sampler.summary(),
    }
    return figures(calls=len(order_ids), run=run), outcome


def ceiling_run(*, args: argparse.Namespace, stock_ids: list[int]) -> dict:
    """The same clients, each with its own autocommit psycopg2 connection, run one
    conditional single-row ``UPDATE`` per call on the hot stock rows (a seeded random row
    each call). The rows get enough free units for every call first and are restored
    after, as the allocation left them."""
    import psycopg2

    from fulfillment.models import Stock

    saved = list(
        Stock.objects.filter(pk__in=stock_ids).values_list("pk", "on_hand", "allocated", "reserved")
    )
    Stock.objects.filter(pk__in=stock_ids).update(
        allocated=0, reserved=0, on_hand=args.ceiling_calls
    )
    rng = random.Random(args.seed)
    jobs = [rng.choice(stock_ids) for _ in range(args.ceiling_calls)]
    dsn = f"{args.pg_url.rstrip('/')}/{args.db}"
    statement = (
        "UPDATE fulfillment_stock SET allocated = allocated + 1 "
        "WHERE id = %s AND on_hand - allocated - reserved >= 1"
    )

    def connect():
        handle = psycopg2.connect(dsn)
        handle.autocommit = True
        return handle, handle.close

    def call(handle, stock_id: int) -> int:
        with handle.cursor() as cursor:
            cursor.execute(statement, (stock_id,))
            return cursor.rowcount

    try:
        run = clients_run(clients=args.clients, jobs=jobs, connect=connect, call=call)
    finally:
        for pk, on_hand, allocated, reserved in saved:
            Stock.objects.filter(pk=pk).update(
                on_hand=on_hand, allocated=allocated, reserved=reserved
            )
    restored = sorted(saved) == sorted(
        Stock.objects.filter(pk__in=stock_ids).values_list("pk", "on_hand", "allocated", "reserved")
    )
    result = figures(calls=len(jobs), run=run)
    result["rows_updated"] = sum(run["results"])
    result["restored"] = restored
    return result


# --- Checks --------------------------------------------------------------------------------


def allocation_verify(*, order_ids: list[int]) -> dict:
    """What the database holds after the run: no stock row over its on-hand units, each
    row's ``allocated`` equal to its live allocations, each order line allocated or bought
    for exactly its quantity, and each product's domestic units all used (demand is over
    supply)."""
    from django.db.models import F, Sum

    from fulfillment.models import Allocation, PurchaseOrder, PurchaseOrderLine, Stock
    from orders.models import OrderLine

    overdrawn = Stock.objects.filter(on_hand__lt=F("allocated") + F("reserved")).count()
    live = dict(
        Allocation.objects.filter(status=Allocation.Status.ALLOCATED)
        .values("stock_id")
        .annotate(units=Sum("quantity"))
        .values_list("stock_id", "units")
    )
    stocks = list(Stock.objects.values_list("pk", "product_id", "on_hand", "allocated"))
    allocated_mismatch = sum(allocated != live.get(pk, 0) for pk, _p, _o, allocated in stocks)
    domestic = dict(
        Allocation.objects.filter(status=Allocation.Status.ALLOCATED)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
        .values_list("order_line_id", "units")
    )
    bought = dict(
        PurchaseOrderLine.objects.exclude(status=PurchaseOrderLine.Status.CANCELLED)
        .filter(order_line__isnull=False)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
        .values_list("order_line_id", "units")
    )
    lines = list(OrderLine.objects.filter(order_id__in=order_ids).values_list("pk", "quantity"))
    lines_wrong = sum(domestic.get(pk, 0) + bought.get(pk, 0) != quantity for pk, quantity in lines)
    demand: dict[int, int] = {}
    for product_id, quantity in OrderLine.objects.values_list("product_id", "quantity"):
        demand[product_id] = demand.get(product_id, 0) + quantity
    supply: dict[int, int] = {}
    used: dict[int, int] = {}
    for _pk, product_id, on_hand, allocated in stocks:
        supply[product_id] = supply.get(product_id, 0) + on_hand
        used[product_id] = used.get(product_id, 0) + allocated
    products_short = sum(used.get(p, 0) != min(supply[p], demand.get(p, 0)) for p in supply)
    checks = {
        "stock_rows_overdrawn": overdrawn,
        "stock_rows_allocated_mismatch": allocated_mismatch,
        "order_lines_checked": len(lines),
        "order_lines_wrong": lines_wrong,
        "products_domestic_units_unused": products_short,
        "cross_border_purchase_orders": PurchaseOrder.objects.filter(
            kind=PurchaseOrder.Kind.CROSS_BORDER
        ).count(),
        "purchase_order_lines": sum(1 for _ in bought),
    }
    checks["ok"] = not (overdrawn or allocated_mismatch or lines_wrong or products_short)
    return checks


# --- Report --------------------------------------------------------------------------------


def render_markdown(result: dict) -> str:
    data, machine = result["data"], result["machine"]
    alloc, ceiling, outcome, checks = (
        result["allocation"],
        result["ceiling"],
        result["outcome"],
        result["checks"],
    )
    lines = [
        f"# Allocation throughput — {result['started_at']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; "
        f"PostgreSQL {machine.get('postgresql', '?')}; commit {machine.get('commit', '?')}; "
        f"load average before {machine.get('loadavg_before', '?')}"
        f"{' (busy)' if machine.get('busy') else ''}, after {result['loadavg_after']}",
        f"- Data: {data['orders']:,} paid orders ({data['orders_with_two_lines']:,} with two "
        f"lines, {data['order_lines']:,} lines, {data['units_ordered']:,} units) on "
        f"{data['hot_products']} hot products; {data['domestic_units']:,} domestic units in "
        f"{data['stock_rows']} stock rows ({data['warehouses']} warehouses); "
        f"loaded in {result['load_seconds']} s",
        f"- {result['clients']} clients (threads, one connection each) taking work from one "
        "queue in order; latency is per call, wall time from the start barrier to the last "
        "call",
        "",
        "| run | calls | errors | seconds | per second | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in (
        ("`order_allocate` (orders)", alloc),
        ("single-row `UPDATE` (ceiling)", ceiling),
    ):
        lines.append(
            f"| {label} | {row['calls']:,} | {row['errors']} | {row['seconds']:.2f} | "
            f"{row['per_second']:,.1f} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['max_ms']:.2f} |"
        )
    lines += [
        "",
        f"Allocation reaches **{result['ratio_percent']:.1f} %** of the ceiling "
        f"({alloc['per_second']:,.1f} orders/s against {ceiling['per_second']:,.1f} "
        "updates/s).",
        "",
        f"- Allocation: {outcome['created']:,} orders allocated "
        f"({outcome['orders_all_domestic']:,} all domestic, "
        f"{outcome['orders_with_cross_border']:,} with cross-border units), "
        f"{outcome['domestic_units']:,} domestic and {outcome['cross_border_units']:,} "
        f"cross-border units; {outcome['orders_changed_from_promise']:,} orders split "
        f"differently from the promise ({data['promised_domestic_units']:,} units promised "
        "domestic in order-number order) and published `order.fulfillment_changed`.",
        f"- Checks: {checks['stock_rows_overdrawn']} stock rows over on hand, "
        f"{checks['stock_rows_allocated_mismatch']} rows whose `allocated` differs from their "
        f"allocations, {checks['order_lines_wrong']} of {checks['order_lines_checked']:,} "
        "order lines not allocated + bought for exactly their quantity, "
        f"{checks['products_domestic_units_unused']} products with domestic units left "
        f"unused; {checks['cross_border_purchase_orders']} cross-border purchase order(s). "
        f"**{'OK' if checks['ok'] else 'FAILED'}**.",
        f"- Ceiling: {ceiling['rows_updated']:,} of {ceiling['calls']:,} updates changed a "
        f"row; stock rows restored afterwards: {'yes' if ceiling['restored'] else 'NO'}.",
        f"- One allocation alone (one client, {result['allocation_alone']['orders']} orders "
        f"rolled back before the run): median {result['allocation_alone']['median_ms']:.2f} ms, "
        f"of which SQL {result['allocation_alone']['median_sql_ms']:.2f} ms, "
        f"{result['allocation_alone']['statements']} statements.",
        "- Sessions during the allocation run (average number of the clients' database "
        "sessions in each state, sampled every 20 ms from `pg_stat_activity`): "
        + "; ".join(f"{key} {value}" for key, value in outcome["sessions"].items())
        + ".",
    ]
    if outcome["error_samples"]:
        lines += ["", "Errors (first ones):", ""]
        lines += [f"- `{error}`" for error in outcome["error_samples"]]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = datetime.now(UTC)
    machine = machine_info()
    machine.pop("gunicorn", None)
    machine.pop("wrk", None)
    print(f"[1/5] database {args.db}: recreate, migrate", flush=True)
    machine["postgresql"] = database_recreate(pg_url=args.pg_url, name=args.db)
    # Events published by the allocation are enqueued to a throw-away filesystem broker:
    # no worker of another run picks them up.
    broker = Path(tempfile.mkdtemp(prefix="gs-bench-alloc-broker-"))
    for folder in (broker / "processed", broker / "control"):
        folder.mkdir()
    django_setup(
        {
            "DJANGO_SETTINGS_MODULE": "storefront.settings",
            "DATABASE_URL": f"{args.pg_url.rstrip('/')}/{args.db}",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_FOLDER": str(broker),
        }
    )
    # The filesystem transport has no host and says so on every connection.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    try:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"[2/5] writing {args.orders:,} paid orders on {args.hot_products} products")
        began = time.perf_counter()
        data = data_load(args)
        load_seconds = round(time.perf_counter() - began, 1)
        print(f"      {data['summary']} in {load_seconds} s", flush=True)

        alone = allocation_alone(order_ids=data["order_ids"])
        print(f"      one client alone, rolled back: {alone}", flush=True)
        print(f"[3/5] allocating with {args.clients} clients", flush=True)
        allocation, outcome = allocation_run(args=args, order_ids=data["order_ids"])
        print(f"      {allocation}", flush=True)
        print("[4/5] verifying", flush=True)
        checks = allocation_verify(order_ids=data["order_ids"])
        print(f"      {checks}", flush=True)
        print(f"[5/5] ceiling: {args.ceiling_calls:,} single-row UPDATEs", flush=True)
        ceiling = ceiling_run(args=args, stock_ids=data["stock_ids"])
        print(f"      {ceiling}", flush=True)

        ratio = (
            100 * allocation["per_second"] / ceiling["per_second"] if ceiling["per_second"] else 0
        )
        result = {
            "stamp": started.strftime("%Y%m%d-%H%M%S"),
            "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join(["python", "-m", "bench.allocation", *argv]),
            "machine": machine,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "clients": args.clients,
            "data": data["summary"],
            "load_seconds": load_seconds,
            "allocation_alone": alone,
            "allocation": allocation,
            "outcome": outcome,
            "checks": checks,
            "ceiling": ceiling,
            "ratio_percent": round(ratio, 2),
        }
        markdown = render_markdown(result)
        print(markdown)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        base = args.results_dir / f"allocation-{result['stamp']}"
        base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        base.with_suffix(".md").write_text(markdown)
        print(f"written {base}.json and .md")
        ok = checks["ok"] and not allocation["errors"] and not ceiling["errors"]
        return 0 if ok and ceiling["restored"] else 1
    finally:
        shutil.rmtree(broker, ignore_errors=True)
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(pg_url=args.pg_url, name=args.db)


if __name__ == "__main__":
    sys.exit(main())
