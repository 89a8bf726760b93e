"""Order placement under concurrency: quote, stock reservation and the Stripe
PaymentIntent, for N orders placed by C concurrent clients on the big catalog.

    python -m bench.orders --db gs_bench --stripe-url http://127.0.0.1:8431

Not a timed test: it prints and records numbers; it exits non-zero only when an order
could not be placed or the data is wrong afterwards (a stock row over-reserved, an order
without its PaymentIntent, a reservation count that does not match).

What one "placement" is (timed as a whole, and each step on its own):

1. ``checkout_quote``: the cart priced from the catalog, current FX rate and stock;
2. ``order_place``: the order in ``pending_payment`` with its stock reservations (row
   locks on the stock rows it takes), the cart emptied;
3. ``payment_intent_ensure``: the PaymentIntent created at Stripe (localstripe over HTTP,
   with its idempotency key) and stored.

The clients call the services directly, one thread and one database connection each,
rather than posting the checkout form through gunicorn: the form path adds sign-in,
sessions, CSRF and form parsing, which the page benchmarks already cover, and the three
steps above are what the target is about. Threads share one interpreter lock, so the
latencies are upper figures for the Python part (as in ``bench.allocation``). Carts are
prepared before the clock starts: anonymous session carts of 1-3 lines of products with
domestic stock (no PCCC needed; cross-border orders also call the customs service, which
the sandbox fakes and which is not part of this measure), drawn at random from all the
stocked products, so clients rarely queue on the same stock row.

Data: the catalog of an earlier ``python -m bench.run --keep-db`` (``--db``); the stock
reserved is released at the end (``stock_reservations_release``, as for expired
unpaid orders); the orders stay, in ``pending_payment``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import report, run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__)
    parser.add_argument("--orders", type=int, default=400, help="orders to place")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="client processes (the clients are split among them; each has its own "
        "interpreter lock, like gunicorn's workers)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="count each client's first order too (by default each client places one "
        "uncounted order before the clock starts: its first connections to Redis, "
        "localstripe and PostgreSQL)",
    )
    parser.add_argument("--db", default="gs_bench", help="database kept by bench.run --keep-db")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
    )
    parser.add_argument(
        "--stripe-url", default="http://127.0.0.1:8420", help="localstripe (STRIPE_API_BASE)"
    )
    parser.add_argument("--results-dir", type=Path, default=report.RESULTS_DIR)
    return parser.parse_args(argv)


ADDRESS = {
    "recipient_name": "Bench Shopper",
    "phone": "+821012345678",
    "postal_code": "06236",
    "road_address": "Teheran-ro 123, Gangnam-gu, Seoul",
    "detail_address": "Apt 101",
}


def carts_prepare(*, count: int, seed: int) -> list[int]:
    """``count`` anonymous carts of 1-3 domestic-stock products (1 unit each)."""
    from fulfillment.models import Stock
    from fulfillment.selectors import domestic_available_for_products
    from orders.services.carts import cart_add, cart_get_or_create_for_session

    rng = random.Random(seed)
    stocked = list(
        Stock.objects.filter(warehouse__is_domestic=True, on_hand__gte=20)
        .values_list("product_id", flat=True)
        .distinct()
    )
    available = domestic_available_for_products(product_ids=stocked)
    stocked = [pid for pid in stocked if available.get(pid, 0) >= 5]
    carts = []
    for n in range(count):
        cart = cart_get_or_create_for_session(session_key=f"bench-orders-{seed}-{n:06d}")
        for product_id in rng.sample(stocked, rng.randint(1, 3)):
            cart_add(cart=cart, product_id=product_id, quantity=1)
        carts.append(cart.pk)
    return carts


def place_one(cart_id: int, index: int) -> dict:
    from orders.services.checkout import ShippingAddress, checkout_quote, order_place
    from orders.services.payments import payment_intent_ensure

    timings = {}
    started = time.perf_counter()
    quote = checkout_quote(cart_id=cart_id)
    timings["quote"] = time.perf_counter() - started
    step = time.perf_counter()
    order = order_place(
        customer_id=None,
        email=f"bench-order-{index}@example.com",
        cart_id=cart_id,
        address=ShippingAddress(**ADDRESS),
        customs=None,
        expected_total_krw=quote.total_krw,
    )
    timings["place"] = time.perf_counter() - step
    step = time.perf_counter()
    payment = payment_intent_ensure(order_id=order.pk)
    timings["payment_intent"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    return {"order_id": order.pk, "payment": payment.payment_intent_id, **timings}


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1] * 1000, 1),
        "mean": round(statistics.fmean(ordered) * 1000, 1),
    }


def clients_run(
    *, carts: list[int], clients: int, offset: int = 0, warmup_carts: list[int] = ()
) -> tuple[list[dict], list[str], float, list[dict]]:
    """``clients`` threads placing ``carts``; each first places one of ``warmup_carts``
    (if given) before the clock starts: its first Redis, localstripe and database
    round trips, which a running server has long made, are not measured. Returns the
    measured results, the errors, the seconds and the warm-up results."""
    from django.db import connection

    queue = [(offset + n, cart_id) for n, cart_id in enumerate(carts)]
    warmups = [(offset + len(carts) + n, cart_id) for n, cart_id in enumerate(warmup_carts)]
    lock = threading.Lock()
    results: list[dict] = []
    warmed: list[dict] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        connection.ensure_connection()
        with lock:
            warmup = warmups.pop(0) if warmups else None
        if warmup is not None:
            try:
                outcome = place_one(warmup[1], warmup[0])
                with lock:
                    warmed.append(outcome)
            except Exception as exc:  # recorded and reported: the run then fails
                with lock:
                    errors.append(f"warm-up cart {warmup[1]}: {type(exc).__name__}: {exc}")
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    break
                index, cart_id = queue.pop(0)
            try:
                outcome = place_one(cart_id, index)
            except Exception as exc:  # recorded and reported: the run then fails
                with lock:
                    errors.append(f"cart {cart_id}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                results.append(outcome)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, errors, time.perf_counter() - started, warmed


def _child(carts: list[int], clients: int, offset: int, warmup_carts: list[int], queue) -> None:
    from django.db import connections

    connections.close_all()
    results, errors, seconds, warmed = clients_run(
        carts=carts, clients=clients, offset=offset, warmup_carts=warmup_carts
    )
    queue.put((results, errors, seconds, warmed))


def processes_run(
    *, carts: list[int], clients: int, processes: int, warmup_carts: list[int] = ()
) -> tuple[list[dict], list[str], float, list[dict]]:
    """``clients_run`` split over ``processes`` forked processes (carts dealt in turn).
    The seconds are the slowest process's own measured time (from its clients' start,
    after their warm-up, to its last order)."""
    import multiprocessing

    from django.db import connections

    if processes <= 1:
        return clients_run(carts=carts, clients=clients, warmup_carts=warmup_carts)
    connections.close_all()  # never share a connection with a forked child
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    per_process = max(1, clients // processes)
    warmup_carts = list(warmup_carts)
    children = [
        context.Process(
            target=_child,
            args=(
                carts[n::processes],
                per_process,
                n * len(carts),
                warmup_carts[n * per_process : (n + 1) * per_process],
                queue,
            ),
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    results: list[dict] = []
    warmed: list[dict] = []
    errors: list[str] = []
    seconds = 0.0
    for _child_process in children:
        child_results, child_errors, child_seconds, child_warmed = queue.get()
        results += child_results
        errors += child_errors
        warmed += child_warmed
        seconds = max(seconds, child_seconds)
    for child in children:
        child.join()
    return results, errors, seconds, warmed


def verify(results: list[dict]) -> list[str]:
    from django.db.models import F, Sum

    from fulfillment.models import Reservation, Stock
    from orders.models import Order, Payment

    problems = []
    ids = [r["order_id"] for r in results]
    if Stock.objects.filter(on_hand__lt=F("allocated") + F("reserved")).exists():
        problems.append("a stock row has more allocated + reserved than on hand")
    without = Order.objects.filter(pk__in=ids).exclude(
        pk__in=Payment.objects.filter(payment_intent_id__isnull=False).values("order_id")
    )
    if without.exists():
        problems.append(f"{without.count()} orders without a PaymentIntent")
    reserved = Reservation.objects.filter(order_id__in=ids).aggregate(n=Sum("quantity"))["n"]
    ordered = Order.objects.filter(pk__in=ids).aggregate(n=Sum("lines__quantity"))["n"]
    if reserved != ordered:
        problems.append(f"reserved units {reserved} != ordered units {ordered}")
    return problems


def cleanup(results: list[dict]) -> None:
    """Give the stock the run reserved back (as for an expired order), so runs can repeat
    on the same data. The orders and payments stay in the benchmark database."""
    from fulfillment.services.reservations import stock_reservations_release

    for outcome in results:
        stock_reservations_release(order_id=outcome["order_id"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    machine = run.machine_info()
    machine["postgresql"] = run.server_version(pg_url=args.pg_url)
    run.django_setup(
        {
            "DJANGO_SETTINGS_MODULE": "storefront.settings",
            "DATABASE_URL": f"{args.pg_url.rstrip('/')}/{args.db}",
            "REDIS_URL": args.redis_url,
            "STRIPE_API_BASE": args.stripe_url,
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    warmup_count = args.clients if args.warmup else 0
    print(f"preparing {args.orders} carts (+ {warmup_count} for the warm-up)", flush=True)
    everything = carts_prepare(count=args.orders + warmup_count, seed=args.seed)
    carts, warmup_carts = everything[: args.orders], everything[args.orders :]
    print(f"placing them with {args.clients} clients", flush=True)
    load_before = os.getloadavg()
    results, errors, seconds, warmed = processes_run(
        carts=carts, clients=args.clients, processes=args.processes, warmup_carts=warmup_carts
    )
    load_after = os.getloadavg()
    problems = verify(results + warmed) + errors[:10]
    summary = {
        "orders": len(results),
        "errors": len(errors),
        "seconds": round(seconds, 2),
        "orders_per_s": round(len(results) / seconds, 1) if seconds else 0.0,
    }
    if results:
        for step in ("total", "quote", "place", "payment_intent"):
            summary[step] = percentiles([r[step] for r in results])
    cleanup(results + warmed)
    result = {
        "stamp": started_at.strftime("%Y%m%d-%H%M%S"),
        "command": shlex.join(["python", "-m", "bench.orders", *argv]),
        "machine": machine,
        "loadavg_during": [round(load_before[0], 2), round(load_after[0], 2)],
        "options": {k: v for k, v in vars(args).items() if k not in ("pg_url", "redis_url")},
        "summary": summary,
        "problems": problems,
    }
    result["options"]["results_dir"] = str(args.results_dir)
    lines = [
        f"# Order placement {started_at:%Y-%m-%d %H:%M UTC}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Load average before / after the run: {load_before[0]:.2f} / {load_after[0]:.2f} "
        f"({machine['cores']} cores); PostgreSQL {machine['postgresql']}; code {machine['commit']}",
        "",
        f"{summary['orders']} orders in {summary['seconds']} s = {summary['orders_per_s']} "
        f"orders/s with {args.clients} clients in {args.processes} process(es); "
        f"{summary['errors']} errors; "
        + (
            f"each client placed one order before the clock started ({len(warmed)} not counted)"
            if args.warmup
            else "no warm-up (--no-warmup): each client's first order is counted"
        ),
        "",
        "| step | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step in ("total", "quote", "place", "payment_intent"):
        if step in summary:
            p = summary[step]
            lines.append(
                f"| {step} | {p['p50']} | {p['p95']} | {p['p99']} | {p['max']} | {p['mean']} |"
            )
    lines += ["", "Problems: " + ("; ".join(problems) if problems else "none"), ""]
    markdown = "\n".join(lines)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"orders-{result['stamp']}.json").write_text(
        json.dumps(result, indent=2, default=str) + "\n", "utf-8"
    )
    (args.results_dir / f"orders-{result['stamp']}.md").write_text(markdown, "utf-8")
    print(markdown)
    return 1 if problems or not results else 0


if __name__ == "__main__":
    sys.exit(main())
