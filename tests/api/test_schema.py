"""The OpenAPI schema and the docs: generated without warnings, public, served with local
assets, and a Schemathesis run over every operation with a real key: no 5xx, and every
documented response conforms to the schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from catalog.models import ExchangeRate
from storefront.models import Partner
from tests.factories import ExchangeRateFactory, OrderFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

SEED = 20261128
MAX_EXAMPLES = 25  # per operation


def test_schema_generates_and_validates_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`: any warning or error fails."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"],
    }
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    assert all({"ApiKeyAuth": []} in op.get("security", []) for op in operations)


def test_schema_and_docs_are_public_and_the_docs_use_local_assets():
    client = Client()  # no key at all
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert yaml.safe_load(schema.content)["info"]["title"] == "Global Store partner API"

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html
    assert "/api/schema/" in html


@pytest.fixture
def catalog_with_stock(customs_seed, settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1385"))
    products = ProductFactory.create_batch(3)
    StockFactory(product=products[0], on_hand=50)
    return products


@pytest.fixture
def wsgi_app_in_test_transaction():
    """The real WSGI app, minus what Django's test Client also removes: closing the
    database connection at the end of each request (it would close the test's own
    connection, with its transaction, on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_every_operation(
    partner, api_client, catalog_with_stock, wsgi_app_in_test_transaction
):
    """Every operation in the schema, MAX_EXAMPLES generated cases each (a fixed seed),
    authenticated with a real key of a partner holding every scope and ample credit:
    no 5xx, and every documented response matches its schema."""
    Partner.objects.filter(pk=partner.pk).update(rate_limit_per_minute=1_000_000)
    order = OrderFactory(partner=partner, partner_reference="SCHEMA-1", status="paid")
    known = {"asin": catalog_with_stock[0].asin, "number": order.number}
    client = api_client(partner, scopes=list(Partner.Scope.values))
    auth = {"Authorization": f"Api-Key {client.raw_key}"}

    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", wsgi_app_in_test_transaction
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema has no operations"

    failures: dict[str, BaseException] = {}
    statuses: dict[str, list[int]] = {}
    for operation in operations:
        seen = statuses.setdefault(operation.label, [])

        @seed(SEED)
        @settings(
            max_examples=MAX_EXAMPLES,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call_and_validate(
                headers=auth, checks=[not_a_server_error, response_schema_conformance]
            )
            seen.append(response.status_code)  # noqa: B023 - run() is called right below

        try:
            run()
        except BaseException as exc:  # collect every operation's failure, then report
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[operation.label] = exc
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())
    # Real ids as well, so the 200 answers of the detail endpoints are validated too.
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        if operation.method.upper() != "GET" or not names or not names <= known.keys():
            continue
        case = operation.Case(path_parameters={name: known[name] for name in names})
        response = case.call_and_validate(
            headers=auth, checks=[not_a_server_error, response_schema_conformance]
        )
        assert response.status_code == 200, (operation.label, response.text)
        statuses[operation.label].append(response.status_code)

    # Every operation really ran, authenticated (a 401 would mean the key was not sent).
    for label, codes in statuses.items():
        assert len(codes) >= MAX_EXAMPLES // 2, (label, codes)
        assert 401 not in codes, (label, codes)
