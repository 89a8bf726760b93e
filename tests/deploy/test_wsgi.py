"""The WSGI entry point gunicorn loads (storefront/wsgi.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wsgi_module_freezes_what_it_loaded_out_of_the_garbage_collector():
    """Objects loaded at start-up are frozen (``gc.freeze``), so request-time collections
    skip them; in a fresh interpreter, as gunicorn's worker imports it."""
    script = (
        "import gc; before = gc.get_freeze_count(); import storefront.wsgi; "
        "print(before, gc.get_freeze_count(), callable(storefront.wsgi.application))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, after, app = result.stdout.split()
    assert before == "0"
    assert int(after) > 10_000  # Django and the apps, not a handful of objects
    assert app == "True"
