"""Rendering and storing benchmark results (bench/results/)."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def pages_table(pages: list[dict]) -> str:
    """Markdown table: requests/s and latency per page, with the ratio to the minimal view."""
    ceiling = next(
        (p["requests_per_s"] for p in pages if p["name"] == "minimal" and p.get("ok")), None
    )
    lines = [
        "| page | what is requested | requests/s | p50 ms | p95 ms | p99 ms | errors | "
        "vs minimal view |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for page in pages:
        if not page.get("ok"):
            lines.append(
                f"| {page['name']} | {page['description']} | failed: {page.get('error', '?')} "
                "| | | | | |"
            )
            continue
        latency = page["latency_ms"]
        errors = sum(page["errors"].values())
        ratio = (
            f"{page['requests_per_s'] / ceiling:.1%}" if ceiling else "–"
        )  # share of the ceiling
        lines.append(
            f"| {page['name']} | {page['description']} | {page['requests_per_s']:,.1f} | "
            f"{_ms(latency['p50'])} | {_ms(latency['p95'])} | {_ms(latency['p99'])} | "
            f"{errors:,} | {ratio} |"
        )
    return "\n".join(lines)


def imports_table(imports: list[dict]) -> str:
    """Markdown table: import speed per feed and pass."""
    lines = [
        "| feed | pass | rows | created | updated | unchanged | skipped | seconds | rows/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for item in imports:
        lines.append(
            f"| {item['feed']} | {item['pass']} | {item['rows']:,} | {item['created']:,} | "
            f"{item['updated']:,} | {item['unchanged']:,} | {item['skipped']:,} | "
            f"{item['seconds']:,.1f} | {item['rows_per_s']:,.0f} |"
        )
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    """The whole result as Markdown (what bench/results/latest.md holds)."""
    machine = result["machine"]
    options = result["options"]
    load = machine["loadavg_before"]
    busy = " (busy: other work was running)" if machine["busy"] else ""
    parts = [
        f"# Benchmark {result['started_at']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB "
        f"RAM; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
        f"{busy}",
        f"- Software: Python {machine['python']}, Django {machine['django']}, "
        f"PostgreSQL {machine['postgresql']}, gunicorn {machine['gunicorn']} "
        f"({options['workers']} sync workers), {machine['wrk']}",
        f"- Code: {machine['commit']}",
        f"- Load: wrk, {options['threads']} threads, {options['connections']} connections, "
        f"{options['duration']} s per page after {options['warmup']} s of warm-up; "
        f"DJANGO_DEBUG off, cache on Redis",
        f"- Catalog: {result['catalog']['active_products']:,} active products "
        f"({result['catalog']['synthetic_products']:,} synthetic), "
        f"{result['catalog']['categories']:,} categories, "
        f"{result['catalog']['stocked_products']:,} with domestic stock"
        + (
            f"; synthetic feed generated in {result['generation_seconds']} s"
            if "generation_seconds" in result
            else ""
        ),
        "",
        "## Pages",
        "",
        pages_table(result["pages"]),
        "",
        '"vs minimal view" is the page\'s requests/s as a share of `/health/live/`, a view that '
        "does no database work, served by the same gunicorn: the ceiling of this setup.",
    ]
    if result["imports"]:
        parts += ["", "## Import speed", "", imports_table(result["imports"])]
    parts += [
        "",
        "Not a timed test: numbers depend on the machine and whatever else runs on it.",
        "",
    ]
    return "\n".join(parts)


def results_write(result: dict, *, results_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Write ``<stamp>.json``, ``<stamp>.md`` and ``latest.md``; return the two stamped paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = result["stamp"]
    json_path = results_dir / f"{stamp}.json"
    md_path = results_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    markdown = render_markdown(result)
    md_path.write_text(markdown, "utf-8")
    (results_dir / "latest.md").write_text(markdown, "utf-8")
    return json_path, md_path
