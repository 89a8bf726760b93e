"""WSGI entry point (gunicorn storefront.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")

application = get_wsgi_application()

# What is loaded by now (Django, the apps, models, settings) lives as long as the worker:
# move it out of the collector's generations, so the collections that every request's
# garbage sets off stop walking it again (~1 ms of CPU off a search, docs/performance.md).
gc.collect()
gc.freeze()
