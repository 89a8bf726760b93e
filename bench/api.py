"""The partner API benchmark: the catalog endpoints on the big synthetic catalog, served by
gunicorn and loaded by wrk with a partner's key, against two ceilings measured in the same
run. Not a timed test: it measures, it does not pass or fail.

    python -m bench.api                                   # 100,000 products, 20 s per page
    python -m bench.api --products 5000 --duration 5 --warmup 2          # a quick dry run
    python -m bench.api --keep-db    then    python -m bench.api --skip-import

Steps: (1–2) build the catalog exactly as ``bench.run`` does (same generator, importer,
stock and FX seed; its functions are reused), or reuse a kept database; create a bench
partner with ``catalog:read`` and a rate limit the load cannot reach, and a key;
(3) serve with gunicorn under ``bench.api_settings`` (production settings plus one
bench-only URL, the minimal API view); (4) load each page with wrk sending the key;
(5) print the table and write ``bench/results/api-<stamp>.json`` and ``.md``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from bench import report, run, synth

PRODUCT_SAMPLE = 2000  # product details requested in turn
CURSOR_SAMPLE = 500  # list pages at random places in the catalog
BENCH_PARTNER = "Bench partner"
PAGES = ("api-list", "api-list-filtered", "api-detail", "api-minimal", "minimal")
API_PREFIX = "/api/v1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api", description=__doc__.split("\n\n")[0]
    )
    run.add_load_arguments(parser, port=8301, db="gs_bench_api", pages=PAGES)
    parser.add_argument("--limit", type=int, default=50, help="?limit= of the list pages")
    return parser.parse_args(argv)


# --- Partner and plan --------------------------------------------------------------------


def bench_key() -> str:
    """A fresh key of the bench partner (created if missing): ``catalog:read`` and a rate
    limit the load cannot reach, so the throttle counts every request but refuses none."""
    from storefront.models import Partner
    from storefront.partners import api_key_create, partner_create

    partner = Partner.objects.filter(name=BENCH_PARTNER).first()
    if partner is None:
        partner = partner_create(
            name=BENCH_PARTNER,
            scopes=[Partner.Scope.CATALOG_READ],
            rate_limit_per_minute=2_000_000_000,
        )
    return api_key_create(partner_id=partner.pk, name="bench").raw_key


def _cursor(position: int) -> str:
    """The cursor of the page after product id ``position`` (DRF's cursor encoding)."""
    return b64encode(urlencode({"p": str(position)}).encode()).decode()


def pages_plan(*, wanted: list[str], seed: int, limit: int) -> list[run.Page]:
    """What each page requests, read from the loaded catalog."""
    from django.urls import reverse

    from catalog.models import Category, Product

    rng = random.Random(seed)
    list_path = reverse("api:v1:product-list")
    pages: list[run.Page] = []
    for name in wanted:
        page = run.Page(name=name, description="")
        if name == "api-list":
            ids = list(
                Product.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)
            )
            positions = rng.sample(ids, min(CURSOR_SAMPLE, len(ids)))
            page.description = (
                f"`{list_path}?limit={limit}`, the first page and {len(positions)} pages at "
                "random places (cursors) in turn"
            )
            page.paths = [f"{list_path}?limit={limit}"] + [
                f"{list_path}?limit={limit}&cursor={quote(_cursor(p))}" for p in positions
            ]
        elif name == "api-list-filtered":
            roots = [c.slug for c in Category.objects.get_root_nodes()]
            filters = [f"category={quote(slug)}" for slug in roots]
            filters += [f"q={quote(term)}" for term in run.SEARCH_TERMS]
            filters += [
                "in_stock_domestic=true",
                "in_stock_domestic=false",
                "min_price_krw=10000&max_price_krw=50000",
                "min_price_krw=200000",
                "updated_since=2000-01-01T00:00:00Z",
                "category={}&in_stock_domestic=true&max_price_krw=100000".format(
                    quote(roots[0]) if roots else ""
                ),
            ]
            page.description = (
                f"`{list_path}?limit={limit}` with filters, first page ({len(filters)} in turn: "
                f"each department, {len(run.SEARCH_TERMS)} searches, stock, price, updated_since)"
            )
            page.paths = [f"{list_path}?limit={limit}&{f}" for f in filters]
        elif name == "api-detail":
            asins = list(
                Product.objects.filter(is_active=True).order_by("id").values_list("asin", flat=True)
            )
            sample = random.Random(seed).sample(asins, min(PRODUCT_SAMPLE, len(asins)))
            page.description = f"product detail ({len(sample):,} products in turn)"
            page.paths = [reverse("api:v1:product-detail", kwargs={"asin": a}) for a in sample]
        elif name == "api-minimal":
            page.description = "minimal API view (key, scope, throttle; no catalog work)"
            page.paths = [reverse("bench-api-minimal")]
        elif name == "minimal":
            page.description = "minimal view `/health/live/` (no auth, no database)"
            page.paths = [reverse("health-live")]
        else:
            page.description = name
            page.error = "unknown page name"
        if not page.paths and not page.error:
            page.error = "nothing to request"
        pages.append(page)
    return pages


# --- Loading ----------------------------------------------------------------------------


def _get_status(url: str, *, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wrk_run(*, args: argparse.Namespace, key: str, paths_file: Path, seconds: int) -> dict:
    """One wrk run over the paths in ``paths_file`` sending the key on every request."""
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
        "-H", f"Authorization: Api-Key {key}",
        "-s", str(run.LUA_SCRIPT), f"http://127.0.0.1:{args.port}", "--", str(paths_file),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")


def page_measure(*, args: argparse.Namespace, key: str, page: run.Page) -> dict:
    """Check the page's first paths answer 200, warm it up, then measure it."""
    entry = {"name": page.name, "description": page.description, "paths": len(page.paths)}
    if page.error:
        return {**entry, "ok": False, "error": page.error}
    for path in page.paths[:5]:
        status = _get_status(f"http://127.0.0.1:{args.port}{path}", key=key)
        if status != 200:
            return {**entry, "ok": False, "error": f"HTTP {status} for {path}"}
    paths_file = run.WORK_DIR / f"paths-{page.name}.txt"
    paths_file.write_text("\n".join(page.paths) + "\n", "utf-8")
    if args.warmup > 0:
        wrk_run(args=args, key=key, paths_file=paths_file, seconds=args.warmup)
    loadavg = os.getloadavg()[0]
    measured = wrk_run(args=args, key=key, paths_file=paths_file, seconds=args.duration)
    return {**entry, "ok": True, "loadavg_1m_before": round(loadavg, 2), **measured}


# --- Report ------------------------------------------------------------------------------


def pages_table(pages: list[dict]) -> str:
    """Requests/s and latency per page, as a share of both ceilings."""
    rates = {p["name"]: p["requests_per_s"] for p in pages if p.get("ok")}
    health, api_minimal = rates.get("minimal"), rates.get("api-minimal")
    lines = [
        "| page | what is requested | requests/s | p50 ms | p95 ms | p99 ms | errors | "
        "vs minimal API view | vs `/health/live/` |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page in pages:
        if not page.get("ok"):
            lines.append(
                f"| {page['name']} | {page['description']} | failed: {page.get('error', '?')} "
                "| | | | | | |"
            )
            continue
        latency, rate = page["latency_ms"], page["requests_per_s"]
        errors = sum(page["errors"].values())
        lines.append(
            f"| {page['name']} | {page['description']} | {rate:,.1f} | {latency['p50']:,.1f} | "
            f"{latency['p95']:,.1f} | {latency['p99']:,.1f} | {errors:,} | "
            f"{f'{rate / api_minimal:.1%}' if api_minimal else '–'} | "
            f"{f'{rate / health:.1%}' if health else '–'} |"
        )
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    machine, options, catalog = result["machine"], result["options"], result["catalog"]
    load = machine["loadavg_before"]
    busy = " (busy: other work was running)" if machine["busy"] else ""
    parts = [
        f"# Partner API benchmark {result['started_at']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB "
        f"RAM; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}{busy}",
        f"- Software: Python {machine['python']}, Django {machine['django']}, "
        f"PostgreSQL {machine['postgresql']}, gunicorn {machine['gunicorn']} "
        f"({options['workers']} sync workers), {machine['wrk']}",
        f"- Code: {machine['commit']}",
        f"- Load: wrk, {options['threads']} threads, {options['connections']} connections, "
        f"{options['duration']} s per page after {options['warmup']} s of warm-up; "
        "DJANGO_DEBUG off, cache and rate-limit counters on Redis; every request sends the "
        "bench partner's key",
        f"- Catalog: {catalog['active_products']:,} active products "
        f"({catalog['synthetic_products']:,} synthetic), {catalog['categories']:,} "
        f"categories, {catalog['stocked_products']:,} with domestic stock",
        "",
        "## Pages",
        "",
        pages_table(result["pages"]),
        "",
        "The minimal API view does what every partner request does (key lookup, scope check, "
        "rate-limit counter, JSON) and nothing else; `/health/live/` does no database work at "
        "all. Both are served by the same gunicorn in the same run.",
    ]
    if result["imports"]:
        parts += ["", "## Import (data creation)", "", report.imports_table(result["imports"])]
    parts += ["", "Not a timed test: numbers depend on the machine and on what else runs.", ""]
    return "\n".join(parts)


def results_write(result: dict, *, results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"api-{result['stamp']}.json"
    md_path = results_dir / f"api-{result['stamp']}.md"
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md_path.write_text(render_markdown(result), "utf-8")
    return json_path, md_path


# --- Main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, run._raise_keyboard_interrupt)
    wanted = [name.strip() for name in args.pages.split(",") if name.strip()]
    started = datetime.now(UTC)
    environment = {
        "DJANGO_SETTINGS_MODULE": "bench.api_settings",
        "DATABASE_URL": f"{args.pg_url.rstrip('/')}/{args.db}",
        "REDIS_URL": args.redis_url,
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    if run._port_busy(args.port):
        print(f"port {args.port} is in use; choose another with --port", file=sys.stderr)
        return 2
    try:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    except Exception as exc:  # any failure means Redis is unusable here
        print(f"Redis at {args.redis_url} is not usable: {exc}", file=sys.stderr)
        return 2

    machine = run.machine_info()
    if machine["busy"]:
        print(f"note: load average {machine['loadavg_before']} before the run; machine is busy")
    run.WORK_DIR.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "stamp": started.strftime("%Y%m%d-%H%M%S"),
        "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "-m", "bench.api", *argv]),
        "options": {
            key: (run._display_path(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in ("pg_url", "redis_url")
        },
        "machine": machine,
        "imports": [],
        "pages": [],
    }
    created_db = False
    server: run.Gunicorn | None = None
    try:
        if args.skip_import:
            print(f"[1-2/5] reusing database {args.db} (--skip-import)")
            machine["postgresql"] = run.server_version(pg_url=args.pg_url)
            run.django_setup(environment)
        else:
            print(f"[1/5] generating {args.products:,} synthetic products", flush=True)
            began = time.perf_counter()
            synthetic = synth.write_catalog(
                out_dir=run.WORK_DIR,
                count=args.products,
                seed=args.seed,
                name="bench",
                asin_prefix="GS",
                unknown_price_percent=2,
            )
            result["generation_seconds"] = round(time.perf_counter() - began, 1)
            print(f"[2/5] database {args.db}: recreate, migrate, import", flush=True)
            machine["postgresql"] = run.database_recreate(pg_url=args.pg_url, name=args.db)
            created_db = True
            run.django_setup(environment)
            result["imports"] = run.catalog_load(args=args, synthetic=synthetic)
            result["data_seconds"] = round(time.perf_counter() - began, 1)
        result["catalog"] = run.catalog_stats()
        key = bench_key()
        pages = pages_plan(wanted=wanted, seed=args.seed, limit=args.limit)
        from django.db import connections

        connections.close_all()

        print(f"[3/5] gunicorn on 127.0.0.1:{args.port} with {args.workers} workers", flush=True)
        server = run.Gunicorn(
            port=args.port,
            workers=args.workers,
            environment=environment,
            log=run.WORK_DIR / "gunicorn-api.log",
        )
        server.wait_ready()
        print(
            f"[4/5] wrk: {args.connections} connections, {args.warmup} s warm-up + "
            f"{args.duration} s per page",
            flush=True,
        )
        for page in pages:
            measured = page_measure(args=args, key=key, page=page)
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
            run.database_drop(pg_url=args.pg_url, name=args.db)

    result["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    json_path, md_path = results_write(result, results_dir=args.results_dir)
    print("[5/5] results\n")
    print(render_markdown(result))
    print(f"written: {json_path} and {md_path}")
    return 0 if all(page["ok"] for page in result["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
