"""The load benchmark: a big synthetic catalog on PostgreSQL, served by gunicorn, loaded
by wrk. Not a timed test: it measures, it does not pass or fail.

    python -m bench.run                          # 100,000 products, 20 s per page
    python -m bench.run --products 5000 --duration 5 --warmup 2     # a quick dry run
    make bench BENCH_ARGS="--keep-db"

Steps: (1) generate N synthetic products in the Amazon 2023 layout (bench/synth.py);
(2) drop and create a PostgreSQL database, migrate, import the real samples
(../shared/data/amazon, per file) and the synthetic feed with the real importer, timing
rows/s for a first and a second (unchanged) pass, and give part of the catalog stock;
(3) serve the app with gunicorn (DJANGO_DEBUG off, cache on Redis) on its own port;
(4) load the home page, category pages, searches, product pages and the minimal view
``/health/live/`` with wrk from a second process; (5) print the table and write it to
bench/results/ (timestamped JSON and Markdown, plus latest.md). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

from bench import report, synth

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ROOT / "var" / "bench"
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
REAL_FEEDS = (
    # (label, files passed to the importer together)
    (
        "amazon-us-2023-products.csv",
        ("amazon-us-2023-products.csv", "amazon-us-2023-categories.csv"),
    ),
    ("amazon-us-2020-promptcloud.csv", ("amazon-us-2020-promptcloud.csv",)),
)
# Words shoppers would type; most match synthetic titles, some also real ones.
SEARCH_TERMS = (
    "wireless earbuds", "running shoes", "coffee", "puzzle", "serum", "laptop", "backpack",
    "watch", "novel", "blanket", "yoga mat", "sunscreen", "lego", "dress", "vacuum", "mouse",
)  # fmt: skip
PRODUCT_SAMPLE = 2000  # product pages requested in turn, so the load is not one cached row


@dataclass
class Page:
    name: str
    description: str
    paths: list[str] = field(default_factory=list)
    error: str = ""
    # Request every path once before the warm-up, so the measured run finds each page in
    # the page cache (the steady state of pages visited in the last few minutes).
    visit_all_first: bool = False


def add_load_arguments(
    parser: argparse.ArgumentParser, *, port: int, db: str, pages: tuple[str, ...]
) -> None:
    """The options every load benchmark here shares (catalog, load, server, database,
    Redis, pages, import and results); bench.run and bench.api differ in their defaults."""
    cores = os.cpu_count() or 1
    parser.add_argument("--products", type=int, default=100_000, help="synthetic products")
    parser.add_argument("--seed", type=int, default=1, help="synthetic catalog seed")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per page")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per page")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections")
    parser.add_argument("--threads", type=int, default=min(2, cores), help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=2 * cores + 1, help="gunicorn sync workers (2×cores+1)"
    )
    parser.add_argument("--port", type=int, default=port, help="gunicorn port")
    parser.add_argument("--db", default=db, help="PostgreSQL database (dropped first)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL without the database name",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        help="Redis for the cache (and the API's rate-limit counters); flushed first",
    )
    parser.add_argument(
        "--pages", default=",".join(pages), help=f"comma-separated subset of {','.join(pages)}"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the database in place at the end"
    )
    parser.add_argument(
        "--skip-import",
        action="store_true",
        help="reuse the database from an earlier --keep-db run: no generation, no import",
    )
    parser.add_argument("--no-real", action="store_true", help="do not import the real samples")
    parser.add_argument(
        "--no-second-pass", action="store_true", help="import each feed once (no unchanged pass)"
    )
    parser.add_argument("--results-dir", type=Path, default=report.RESULTS_DIR)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    add_load_arguments(
        parser,
        port=8300,
        db="gs_bench",
        pages=("home", "category", "search", "product", "product-warm", "minimal"),
    )
    parser.add_argument(
        "--no-page-cache",
        action="store_true",
        help="serve with bench.nocache_settings: no page or product-card cache (uncached figures)",
    )
    return parser.parse_args(argv)


# --- Machine and database ----------------------------------------------------------------


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def machine_info() -> dict:
    cpu = "unknown CPU"
    memory_gib = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain"])
    if dirty not in ("", "unknown"):
        commit += " (with uncommitted changes)"
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": memory_gib,
        "loadavg_before": [round(x, 2) for x in load],
        # Another core's worth of work already running: numbers will be lower than idle.
        "busy": load[0] >= 0.75,
        "python": platform.python_version(),
        "django": metadata.version("django"),
        "gunicorn": metadata.version("gunicorn"),
        "wrk": _first_line(["wrk", "--version"]).split(" Copyright")[0],
        "postgresql": "?",
        "commit": commit,
    }


def _admin_connection(pg_url: str):
    import psycopg2

    connection = psycopg2.connect(f"{pg_url.rstrip('/')}/postgres")
    connection.autocommit = True
    return connection


def database_recreate(*, pg_url: str, name: str) -> str:
    """Drop and create the benchmark database; return the server version."""
    from psycopg2 import sql

    connection = _admin_connection(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def database_drop(*, pg_url: str, name: str) -> None:
    from psycopg2 import sql

    connection = _admin_connection(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        connection.close()


def server_version(*, pg_url: str) -> str:
    connection = _admin_connection(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def django_setup(environment: dict[str, str]) -> None:
    """Point this process at the benchmark database, then set Django up."""
    os.environ.update(environment)
    import django

    django.setup()


# --- Catalog -------------------------------------------------------------------------------


def timed_import(*, feed: str, pass_name: str, paths: list[Path]) -> dict:
    """Import ``paths`` with the real importer and time it."""
    from catalog.services.feed_import import feed_import

    started = time.perf_counter()
    result = feed_import(paths=paths, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - started
    rows = result.created + result.updated + result.unchanged + result.skipped
    item = {
        "feed": feed,
        "pass": pass_name,
        "rows": rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.skipped,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
    }
    print(
        f"    {feed}, {pass_name}: {rows:,} rows in {seconds:,.1f} s = "
        f"{item['rows_per_s']:,.0f} rows/s ({result.created:,} created, "
        f"{result.unchanged:,} unchanged, {result.skipped:,} skipped)",
        flush=True,
    )
    return item


def catalog_load(*, args: argparse.Namespace, synthetic: synth.SynthFiles) -> list[dict]:
    """Migrate, import the real samples and the synthetic feed (timed), seed stock and a
    seed FX rate, and refresh the planner's statistics."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from catalog.models import ExchangeRate
    from fulfillment.services.warehouses import (
        DEMO_WAREHOUSES,
        stock_seed_demo,
        warehouse_ensure,
    )

    call_command("migrate", verbosity=0)
    feeds: list[tuple[str, list[Path]]] = []
    sample_dir = Path(settings.AMAZON_SAMPLE_DIR)
    if args.no_real:
        print("    real samples: skipped (--no-real)")
    else:
        for label, names in REAL_FEEDS:
            paths = [sample_dir / name for name in names]
            if all(path.is_file() for path in paths):
                feeds.append((label, paths))
            else:
                print(f"    {label}: not found in {sample_dir}, skipped")
    feeds.append(
        (f"synthetic ({synthetic.count:,} products)", [synthetic.products, synthetic.categories])
    )

    imports = []
    passes = ["1st: creates"]
    if not args.no_second_pass:
        passes.append("2nd: unchanged")
    for feed, paths in feeds:
        for pass_name in passes:
            imports.append(timed_import(feed=feed, pass_name=pass_name, paths=paths))

    for code, name, priority in DEMO_WAREHOUSES:
        warehouse_ensure(code=code, name=name, priority=priority)
    stock = stock_seed_demo(warehouse_codes=[code for code, _, _ in DEMO_WAREHOUSES], percent=20)
    print(f"    stock: {stock.created:,} rows for {stock.products:,} products")
    # Pages price in won: give them a stored rate, as the FX refresh would (no sandbox here).
    now = timezone.now()
    for kind in ExchangeRate.Kind.values:
        ExchangeRate.objects.get_or_create(
            kind=kind,
            effective_at=now,
            defaults={"rate": settings.FX_SEED_USD_KRW, "source": "bench seed"},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # fresh statistics, as autovacuum would get to later
    return imports


def catalog_stats(*, asin_prefix: str = "GS") -> dict:
    from catalog.models import Category, Product
    from fulfillment.models import Stock

    return {
        "active_products": Product.objects.filter(is_active=True).count(),
        "synthetic_products": Product.objects.filter(asin__startswith=asin_prefix).count(),
        "categories": Category.objects.count(),
        "stocked_products": Stock.objects.values("product_id").distinct().count(),
    }


def pages_plan(*, wanted: list[str], seed: int) -> list[Page]:
    """What each page of the benchmark requests, read from the catalog just loaded."""
    from django.urls import NoReverseMatch, reverse

    from catalog.models import Category, Product

    pages: list[Page] = []
    for name in wanted:
        page = Page(name=name, description="")
        try:
            if name == "home":
                page.description = "home page `/`"
                page.paths = [reverse("home")]
            elif name == "category":
                roots = list(Category.objects.get_root_nodes())
                page.description = f"category pages, first page ({len(roots)} departments in turn)"
                page.paths = [category.get_absolute_url() for category in roots]
            elif name == "search":
                base = reverse("catalog:search")
                page.description = f"search `{base}?q=` ({len(SEARCH_TERMS)} queries in turn)"
                page.paths = [f"{base}?q={quote(term)}" for term in SEARCH_TERMS]
            elif name in ("product", "product-warm"):
                asins = list(
                    Product.objects.filter(is_active=True)
                    .order_by("id")
                    .values_list("asin", flat=True)
                )
                sample = random.Random(seed).sample(asins, min(PRODUCT_SAMPLE, len(asins)))
                page.description = f"product pages ({len(sample):,} products in turn)"
                if name == "product-warm":
                    page.description += ", each visited once before the warm-up"
                    page.visit_all_first = True
                page.paths = [reverse("catalog:product", kwargs={"asin": a}) for a in sample]
            elif name == "minimal":
                page.description = "minimal view `/health/live/` (the ceiling)"
                page.paths = [reverse("health-live")]
            else:
                page.description = name
                page.error = "unknown page name"
        except NoReverseMatch as exc:
            page.error = f"URL not available yet ({exc})"
        if not page.paths and not page.error:
            page.error = "nothing to request"
        pages.append(page)
    return pages


# --- Serving and loading ---------------------------------------------------------------


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class Gunicorn:
    """gunicorn in its own process group, so stopping it stops all its workers."""

    def __init__(self, *, port: int, workers: int, environment: dict[str, str], log: Path):
        self.port = port
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        command = [
            sys.executable, "-m", "gunicorn", "storefront.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "sync", "--backlog", "2048", "--timeout", "60",
            "--log-level", "warning", "--error-logfile", "-",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                if _get_status(f"http://127.0.0.1:{self.port}/health/live/") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()


def wrk_run(*, args: argparse.Namespace, paths_file: Path, seconds: int) -> dict:
    """One wrk run over the paths in ``paths_file``; the parsed BENCH_JSON line."""
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{args.port}", "--", str(paths_file),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")


def page_measure(*, args: argparse.Namespace, page: Page) -> dict:
    """Check the page answers 200, warm it up, then measure it."""
    entry = {"name": page.name, "description": page.description, "paths": len(page.paths)}
    if page.error:
        return {**entry, "ok": False, "error": page.error}
    for path in page.paths[:5]:
        status = _get_status(f"http://127.0.0.1:{args.port}{path}")
        if status != 200:
            return {**entry, "ok": False, "error": f"HTTP {status} for {path}"}
    paths_file = WORK_DIR / f"paths-{page.name}.txt"
    paths_file.write_text("\n".join(page.paths) + "\n", "utf-8")
    if page.visit_all_first:
        base = f"http://127.0.0.1:{args.port}"
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            statuses = list(pool.map(lambda path: _get_status(base + path), page.paths))
        failed = len(statuses) - statuses.count(200)
        if failed:
            return {**entry, "ok": False, "error": f"{failed} paths did not answer 200"}
    if args.warmup > 0:
        wrk_run(args=args, paths_file=paths_file, seconds=args.warmup)
    loadavg = os.getloadavg()[0]
    measured = wrk_run(args=args, paths_file=paths_file, seconds=args.duration)
    return {**entry, "ok": True, "loadavg_1m_before": round(loadavg, 2), **measured}


# --- Main --------------------------------------------------------------------------------


def _display_path(path: Path) -> str:
    """A path relative to the project when it is inside it (results are committed)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # clean up on kill, as on Ctrl-C
    wanted = [name.strip() for name in args.pages.split(",") if name.strip()]
    started = datetime.now(UTC)
    database_url = f"{args.pg_url.rstrip('/')}/{args.db}"
    environment = {
        "DJANGO_SETTINGS_MODULE": (
            "bench.nocache_settings" if args.no_page_cache else "storefront.settings"
        ),
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    if _port_busy(args.port):
        print(f"port {args.port} is in use; choose another with --port", file=sys.stderr)
        return 2
    try:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # no cached pages or rates from before
    except Exception as exc:  # any failure means Redis is unusable here
        print(f"Redis at {args.redis_url} is not usable: {exc}", file=sys.stderr)
        return 2

    machine = machine_info()
    if machine["busy"]:
        print(f"note: load average {machine['loadavg_before']} before the run; machine is busy")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "stamp": started.strftime("%Y%m%d-%H%M%S"),
        "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "-m", "bench.run", *argv]),
        "options": {
            key: (_display_path(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in ("pg_url", "redis_url")
        },
        "machine": machine,
        "imports": [],
        "pages": [],
    }
    created_db = False
    server: Gunicorn | None = None
    try:
        if args.skip_import:
            print(f"[1-2/5] reusing database {args.db} (--skip-import)")
            machine["postgresql"] = server_version(pg_url=args.pg_url)
            django_setup(environment)
        else:
            print(f"[1/5] generating {args.products:,} synthetic products", flush=True)
            began = time.perf_counter()
            synthetic = synth.write_catalog(
                out_dir=WORK_DIR,
                count=args.products,
                seed=args.seed,
                name="bench",
                asin_prefix="GS",
                unknown_price_percent=2,  # the real 2023 feed has ~2 % rows without a price
            )
            result["generation_seconds"] = round(time.perf_counter() - began, 1)
            print(f"[2/5] database {args.db}: recreate, migrate, import", flush=True)
            machine["postgresql"] = database_recreate(pg_url=args.pg_url, name=args.db)
            created_db = True
            django_setup(environment)
            result["imports"] = catalog_load(args=args, synthetic=synthetic)
        result["catalog"] = catalog_stats()
        pages = pages_plan(wanted=wanted, seed=args.seed)
        from django.db import connections

        connections.close_all()

        print(f"[3/5] gunicorn on 127.0.0.1:{args.port} with {args.workers} workers", flush=True)
        server = Gunicorn(
            port=args.port,
            workers=args.workers,
            environment=environment,
            log=WORK_DIR / "gunicorn.log",
        )
        server.wait_ready()
        print(
            f"[4/5] wrk: {args.connections} connections, {args.warmup} s warm-up + "
            f"{args.duration} s per page",
            flush=True,
        )
        for page in pages:
            measured = page_measure(args=args, page=page)
            result["pages"].append(measured)
            if measured["ok"]:
                print(
                    f"    {page.name}: {measured['requests_per_s']:,.1f} req/s, p50 "
                    f"{measured['latency_ms']['p50']:.1f} ms, p99 "
                    f"{measured['latency_ms']['p99']:.1f} ms",
                    flush=True,
                )
            else:
                print(f"    {page.name}: FAILED {measured['error']}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping gunicorn and cleaning up", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
        if created_db and not args.keep_db:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # Django may not be set up yet
                pass
            database_drop(pg_url=args.pg_url, name=args.db)

    result["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    json_path, md_path = report.results_write(result, results_dir=args.results_dir)
    print("[5/5] results\n")
    print(report.render_markdown(result))
    print(f"written: {json_path}, {md_path} and {md_path.parent / 'latest.md'}")
    return 0 if all(page["ok"] for page in result["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
