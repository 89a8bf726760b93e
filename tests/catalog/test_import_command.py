"""`manage.py import_amazon_feed`: summary line, JSON report, exit codes, progress bar."""

import json
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product

pytestmark = pytest.mark.django_db

HEADER = (
    "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,"
    "boughtInLastMonth"
)
SUMMARY = re.compile(
    r"^Imported (?P<rows>[\d,]+) rows from (?P<files>\d+) files? in [\d.]+ s "
    r"\([\d,]+ rows/s\): (?P<created>[\d,]+) created, (?P<updated>[\d,]+) updated, "
    r"(?P<unchanged>[\d,]+) unchanged, (?P<skipped>[\d,]+) skipped\.$"
)


@pytest.fixture
def feed(tmp_path, customs_seed):
    (tmp_path / "categories.csv").write_text("id,category_name\n1,Puzzles\n", encoding="utf-8")
    path = tmp_path / "products.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "B000000001,Puzzle one,,,4.5,3,12.99,0.0,1,False,0",
                "B000000002,Puzzle two,,,4.0,1,0.0,0.0,1,False,0",
                "B000000003,Puzzle three,,,0.0,0,7.50,9.99,1,True,50",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("import_amazon_feed", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_one_summary_line_and_writes_the_report(feed, tmp_path):
    report_path = tmp_path / "report.json"

    out, err = run(str(feed), "--report", str(report_path), "--no-progress")

    lines = out.splitlines()
    assert len(lines) == 1
    summary = SUMMARY.match(lines[0])
    assert summary is not None, lines[0]
    assert summary.group("rows", "files", "created", "updated", "unchanged", "skipped") == (
        "3",
        "1",
        "2",
        "0",
        "0",
        "1",
    )
    assert err == ""
    assert json.loads(report_path.read_text(encoding="utf-8")) == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "skipped_rows": [
            {
                "file": str(feed),
                "line": 3,
                "reason": "price is 0.0 (0 means unknown in this feed)",
            }
        ],
    }
    assert set(Product.objects.values_list("asin", flat=True)) == {"B000000001", "B000000003"}

    out, _ = run(str(feed), "--no-progress")
    assert SUMMARY.match(out.strip()).group("created", "unchanged", "skipped") == ("0", "2", "1")


def test_the_progress_bar_is_on_stderr_unless_switched_off(feed, capsys):
    out, _ = run(str(feed))
    captured = capsys.readouterr()  # tqdm writes to the process's stderr
    assert "products.csv: 100%" in captured.err
    assert "%" not in out

    out, _ = run(str(feed), verbosity=0)
    assert out == ""
    assert capsys.readouterr().err == ""

    run(str(feed), "--no-progress")
    assert capsys.readouterr().err == ""


def test_verbosity_two_lists_the_skipped_rows(feed):
    out, _ = run(str(feed), "--no-progress", verbosity=2)
    assert f"  skipped {feed}:3: price is 0.0 (0 means unknown in this feed)" in out.splitlines()


def test_source_option(feed):
    run(str(feed), "--no-progress", "--source", "demo")
    assert set(Product.objects.values_list("source", flat=True)) == {"demo"}


def test_an_unknown_layout_is_an_error_with_a_non_zero_exit(feed, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name\n1,x\n", encoding="utf-8")

    # A real process, to see the real exit code; the files are refused before the command
    # opens a database connection, so it needs none.
    finished = subprocess.run(
        [sys.executable, "manage.py", "import_amazon_feed", str(feed), str(bad)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 1
    assert f"CommandError: {bad}: unknown layout: the header 'sku,name'" in finished.stderr
    assert finished.stdout == ""
    assert Product.objects.count() == 0


def test_an_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match=r"missing\.csv: no such file"):
        run(str(tmp_path / "missing.csv"))


def test_a_report_into_a_missing_folder_is_refused_before_importing(feed, tmp_path):
    with pytest.raises(CommandError, match=r"--report: the folder .* does not exist"):
        run(str(feed), "--report", str(tmp_path / "nowhere" / "report.json"))
    assert Product.objects.count() == 0
