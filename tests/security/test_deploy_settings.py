"""Production settings come from the environment only: with production values
`manage.py check --deploy --fail-level WARNING` passes, with the embedded (plain-HTTP)
defaults it does not; HTTPS-only cookies, HSTS, the redirect (health checks exempt), the
proxy header and the secure headers follow the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x7!qv2#Lm9@pR4$wZ8^tY1&kN6*bH3(cJ5)dF0_gS-uE+oA=iW",
    "DJANGO_ALLOWED_HOSTS": "store.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://store.example.com",
    "DJANGO_DEBUG": "0",
    "SITE_URL": "https://store.example.com",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "PCCC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


CALLER_PREFIXES = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "SITE_URL", "CSP_", "PCCC_")


def run_in_clean_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run ``args`` with the settings seeing only ``env`` (no DJANGO_*, database, Redis or
    HTTPS variables from the caller, and no .env overrides of them)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "SITE_URL", "CSP_", "PCCC_")
        )
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="storefront.settings")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def settings_in(env: dict[str, str], names: list[str]) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings\n"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    out = run_in_clean_env(env, "-c", code)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_deploy_check_passes_with_production_environment():
    result = run_in_clean_env(
        PRODUCTION_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_fails_on_the_embedded_plain_http_defaults():
    """The check above is meaningful: without production values it reports the HTTPS
    settings."""
    result = run_in_clean_env(
        {"DJANGO_DEBUG": "0"}, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in output


def test_production_values_turn_on_https_only_cookies_hsts_and_the_redirect():
    got = settings_in(
        PRODUCTION_ENV,
        [
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SECURE_REDIRECT_EXEMPT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
            "SECURE_PROXY_SSL_HEADER",
            "X_FRAME_OPTIONS",
            "SECURE_CONTENT_TYPE_NOSNIFF",
            "SECURE_REFERRER_POLICY",
            "SECURE_CROSS_ORIGIN_OPENER_POLICY",
        ],
    )
    assert got == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^health/"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
    }


def test_each_https_switch_is_configurable_and_preload_is_opt_in():
    got = settings_in(
        {
            **PRODUCTION_ENV,
            "DJANGO_SECURE_HSTS_SECONDS": "600",
            "DJANGO_SECURE_HSTS_PRELOAD": "1",
            "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
        },
        [
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_PRELOAD",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_SSL_REDIRECT",
            "SILENCED_SYSTEM_CHECKS",
        ],
    )
    assert got == {
        "SECURE_HSTS_SECONDS": 600,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_SSL_REDIRECT": False,
        "SILENCED_SYSTEM_CHECKS": [],
    }


def test_embedded_defaults_stay_plain_http_for_make_run_and_tests():
    got = settings_in(
        {},
        [
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_HSTS_SECONDS",
        ],
    )
    assert got == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
    }


@pytest.mark.django_db
def test_http_is_redirected_but_health_checks_are_not(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()  # middleware reads these settings when the client's handler loads

    home = client.get("/", HTTP_HOST="localhost")
    assert home.status_code == 301
    assert home["Location"] == "https://localhost/"
    assert client.get("/health/live/").status_code == 200

    # Through the TLS-terminating proxy: served, with HSTS and the secure headers.
    secure = client.get("/health/live/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["Referrer-Policy"] == "same-origin"
    assert secure["X-Frame-Options"] == "DENY"
    assert secure["Cross-Origin-Opener-Policy"] == "same-origin"


def test_empty_values_as_copied_from_env_example_mean_the_defaults():
    """docker compose loads .env.example, whose HTTPS switches are empty."""
    empty = dict.fromkeys(
        (
            "DJANGO_SECURE_SSL_REDIRECT",
            "DJANGO_SESSION_COOKIE_SECURE",
            "DJANGO_CSRF_COOKIE_SECURE",
            "DJANGO_SECURE_HSTS_SECONDS",
            "DJANGO_SECURE_PROXY_SSL_HEADER",
            "CSP_STRIPE_ORIGINS",
        ),
        "",
    )
    got = settings_in(
        {**PRODUCTION_ENV, **empty},
        [
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_HSTS_SECONDS",
            "SECURE_PROXY_SSL_HEADER",
            "CSP_STRIPE_ORIGINS",
        ],
    )
    assert got == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": None,
        "CSP_STRIPE_ORIGINS": [],
    }
