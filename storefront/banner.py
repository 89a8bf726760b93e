"""Printed by `make run` just before the processes start: where everything is and how to
get a staff login. (The Celery app creates the filesystem broker's folders itself.)

    python -m storefront.banner
"""

from __future__ import annotations

import os

WEB_URL = "http://127.0.0.1:8000"  # Procfile.dev: runserver 127.0.0.1:8000


def _database_line() -> str:
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
        return f"SQLite ({mode.upper()} journal) at {settings_dict['NAME']}"
    return f"{connection.vendor} database {settings_dict['NAME']!r}"


def _staff_line() -> str:
    from django.contrib.auth import get_user_model

    names = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .order_by("username")
        .values_list("username", flat=True)[:3]
    )
    if names:
        return (
            f"sign in as {', '.join(names)}; "
            "`make superuser` in another terminal adds another login"
        )
    return "none yet: run `make superuser` in another terminal, then sign in"


def banner() -> str:
    """The text `make run` prints (needs Django set up)."""
    from django.conf import settings

    broker = settings.CELERY_BROKER_URL
    if broker.startswith("filesystem://"):
        broker = f"filesystem:// ({settings.CELERY_BROKER_FOLDER})"
    elif "@" in broker:
        broker = broker.split("://")[0] + "://…@" + broker.rsplit("@", 1)[1]  # no password
    return f"""
Global Store is starting. Ctrl-C stops every process below.
  Storefront    {WEB_URL}/
  Admin         {WEB_URL}/admin/
  Staff login   {_staff_line()}
  Sandbox       {settings.SANDBOX_URL}/  (FX rates, customs PCCC check, carrier points,
                tracking, Amazon sourcing)
  Stripe        {settings.STRIPE_API_BASE}/  (localstripe; webhooks to the web process)
  Health        {WEB_URL}/health/live/
  Database      {_database_line()}
  Celery        worker and beat on {broker}
  Processes     web (runserver), worker, beat, sandbox, stripe  (Procfile.dev)

Try a purchase: sign up at {WEB_URL}/account/signup/, add items to the cart, check out.
  Card          4242 4242 4242 4242, any future date, any CVC (declined: 4000 0000 0000 0002)
  Recipient     홍길동, 010-1234-5678, 06236 서울특별시 강남구 테헤란로 152
  PCCC          P100000000001 (sandbox registration for that recipient)
  Points        link a carrier membership at {WEB_URL}/account/membership/ with
                010-1234-5678 (VIP, 80,000 points); the one-time code is printed in the
                sandbox's output ("[carrier sms] ... 인증번호 ......")
"""


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    django.setup()
    print(banner())  # noqa: T201


if __name__ == "__main__":
    main()
