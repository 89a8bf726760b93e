"""Printed by `make run` before the processes start: where everything is."""

from storefront.settings import SANDBOX_URL

BANNER = f"""
Global Store is starting (Ctrl-C stops every process below):
  Storefront   http://127.0.0.1:8000/
  Admin        http://127.0.0.1:8000/admin/
               staff login: run `make superuser` in another terminal, then sign in
  Sandbox      {SANDBOX_URL}/  (FX rates; stand-in for external services)
  Processes    web (runserver), worker and beat (Celery), sandbox
"""

if __name__ == "__main__":
    print(BANNER)  # noqa: T201
