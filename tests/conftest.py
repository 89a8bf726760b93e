"""Shared test setup. Fixtures live in tests/fixtures/ by concern and are loaded here."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.celery",
    "tests.fixtures.sandbox",
    "tests.fixtures.stripe",
    "tests.fixtures.browser",
    "tests.fixtures.worker",
]
