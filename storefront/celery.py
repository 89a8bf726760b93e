"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")

# "filesystem://" (the embedded default broker) means our atomic-write variant of kombu's
# transport, for every connection this process makes (storefront/broker_filesystem.py).
TRANSPORT_ALIASES["filesystem"] = "storefront.broker_filesystem:Transport"

app = Celery("storefront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

FX_REFRESH_TASK = "catalog.tasks.fx_rates_refresh"


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """kombu's filesystem transport (the embedded default broker) fails when its folders
    are missing; create them so a worker, beat or the web process can start on a fresh
    checkout."""
    if not str(sender.conf.broker_url or "").startswith("filesystem://"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@worker_ready.connect
def _refresh_fx_on_worker_ready(**kwargs: object) -> None:
    """Enqueue one FX refresh when a worker starts, so a fresh `make run` prices with the
    source's rate right away instead of waiting for beat's first interval. Harmless with
    several workers: the refresh is idempotent."""
    app.send_task(FX_REFRESH_TASK)
