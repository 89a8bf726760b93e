"""FX refresh over real HTTP against the sandbox: storing, idempotency, keeping the last
good rate on every kind of source failure (catalog/services/fx.py, catalog/fx_client.py)."""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import fx_client
from catalog.fx_client import FxRateClient, FxSourceInvalid, FxSourceUnavailable
from catalog.models import ExchangeRate
from catalog.selectors import fx_rate_current
from catalog.services.fx import FxRefreshOutcome, fx_rates_refresh
from tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db

SELLING = ExchangeRate.Kind.SELLING
CUSTOMS = ExchangeRate.Kind.CUSTOMS


@pytest.fixture(autouse=True)
def _quick_client_retries(monkeypatch):
    # The client's pause between attempts only protects a real source; keep tests quick.
    monkeypatch.setattr(fx_client, "RETRY_BACKOFF_SECONDS", 0.01)


@pytest.fixture
def last_good_rates():
    """Rates stored by an earlier refresh: what must stay current when the source fails."""
    published = timezone.now() - timezone.timedelta(days=1)
    ExchangeRateFactory(kind=SELLING, rate=Decimal("1377.7000"), effective_at=published)
    ExchangeRateFactory(kind=CUSTOMS, rate=Decimal("1366.6000"), effective_at=published)


def _rows() -> list[tuple[str, Decimal, str]]:
    return sorted(ExchangeRate.objects.values_list("kind", "rate", "source"))


def test_refresh_stores_both_rates_and_the_selector_serves_them(
    fx_rate_source, django_capture_on_commit_callbacks
):
    state = fx_rate_source.state("fx")["rates"]
    assert fx_rate_current().rate == Decimal("1390.00")  # the seed, now cached

    with django_capture_on_commit_callbacks(execute=True):
        result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.STORED
    assert result.ok
    assert set(result.stored_kinds) == {"selling", "customs"}
    assert (result.selling_rate, result.customs_rate) == (Decimal("1391.50"), Decimal("1388.20"))
    assert _rows() == [
        ("customs", Decimal("1388.2000"), "sandbox"),
        ("selling", Decimal("1391.5000"), "sandbox"),
    ]
    selling = ExchangeRate.objects.get(kind=SELLING)
    assert selling.effective_at == datetime.fromisoformat(state["selling"]["published_at"])
    # The cache was cleared on commit: the selector does not serve the cached seed.
    assert fx_rate_current().rate == Decimal("1391.5000")
    assert fx_rate_current(kind=CUSTOMS).rate == Decimal("1388.2000")
    assert fx_rate_current().source == "sandbox"


def test_the_same_publication_twice_stores_nothing_new(
    fx_rate_source, django_capture_on_commit_callbacks
):
    fx_rates_refresh()

    with django_capture_on_commit_callbacks() as callbacks:
        again = fx_rates_refresh()

    assert again.outcome is FxRefreshOutcome.UNCHANGED
    assert again.ok
    assert again.stored_kinds == ()
    assert ExchangeRate.objects.count() == 2
    assert callbacks == []  # nothing changed, so the cache is left alone


def test_a_new_selling_publication_is_stored_and_becomes_current(
    fx_rate_source, django_capture_on_commit_callbacks
):
    fx_rates_refresh()
    fx_rate_current()  # cache the first rate
    fx_rate_source.state(
        "fx", selling={"rate": "1402.35", "published_at": timezone.now().isoformat()}
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = fx_rates_refresh()

    assert result.stored_kinds == ("selling",)
    assert ExchangeRate.objects.filter(kind=SELLING).count() == 2
    assert ExchangeRate.objects.filter(kind=CUSTOMS).count() == 1
    assert fx_rate_current().rate == Decimal("1402.3500")


def test_a_publication_rewritten_at_the_source_is_not_stored_again(fx_rate_source, caplog):
    fx_rates_refresh()
    fx_rate_source.state("fx", selling={"rate": "1499.00"})  # same publication time

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.UNCHANGED
    assert ExchangeRate.objects.get(kind=SELLING).rate == Decimal("1391.5000")
    assert "changed from 1391.5000 to 1499.0000" in caplog.text


def test_rates_are_read_as_decimals_from_json_numbers(fx_rate_source):
    fx_rate_source.state("fx", selling={"rate": 1391.57}, customs={"rate": 1388})

    fx_rates_refresh()

    assert ExchangeRate.objects.get(kind=SELLING).rate == Decimal("1391.5700")
    assert ExchangeRate.objects.get(kind=CUSTOMS).rate == Decimal("1388.0000")


def test_transient_500s_are_retried_by_the_client(fx_rate_source):
    fx_rate_source.faults("fx", fail_next=fx_client.MAX_ATTEMPTS - 1)

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.STORED
    assert ExchangeRate.objects.count() == 2
    assert [r["fault"] for r in fx_rate_source.requests("fx")] == ["fail", "fail", None]


def _assert_last_good_rates_kept() -> None:
    assert _rows() == [
        ("customs", Decimal("1366.6000"), "test"),
        ("selling", Decimal("1377.7000"), "test"),
    ]
    assert fx_rate_current().rate == Decimal("1377.7000")
    assert fx_rate_current(kind=CUSTOMS).rate == Decimal("1366.6000")


def test_500s_keep_the_last_good_rate_and_store_nothing(
    fx_rate_source, last_good_rates, caplog, django_capture_on_commit_callbacks
):
    fx_rate_source.faults("fx", fail_next=100)

    with django_capture_on_commit_callbacks() as callbacks:
        result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_UNAVAILABLE
    assert not result.ok
    assert result.stored_kinds == ()
    assert "500" in result.detail
    assert callbacks == []
    _assert_last_good_rates_kept()
    # Bounded: exactly MAX_ATTEMPTS requests, then it gives up.
    assert fx_rate_source.request_count("fx") == fx_client.MAX_ATTEMPTS
    assert "keeping the last good rates" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_a_timeout_keeps_the_last_good_rate_and_is_not_retried_in_the_client(
    fx_rate_source, last_good_rates, settings
):
    settings.FX_RATE_TIMEOUT_SECONDS = 0.3
    fx_rate_source.faults("fx", timeout_next=1, timeout_seconds=30)

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_UNAVAILABLE
    assert "timed out" in result.detail
    _assert_last_good_rates_kept()
    assert fx_rate_source.request_count("fx") == 1


def test_malformed_json_keeps_the_last_good_rate_and_is_not_retried(
    fx_rate_source, last_good_rates
):
    fx_rate_source.faults("fx", malformed_next=1)

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_INVALID
    assert result.detail == "rate source answered malformed JSON"
    _assert_last_good_rates_kept()
    assert fx_rate_source.request_count("fx") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_source_keeps_the_last_good_rate(settings, last_good_rates):
    settings.FX_RATE_SOURCE_URL = f"http://127.0.0.1:{_free_port()}/fx/rates"

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_UNAVAILABLE
    assert "unreachable" in result.detail
    _assert_last_good_rates_kept()


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"selling": {"rate": "0"}}, "outside the plausible"),
        ({"selling": {"rate": "-1391.50"}}, "outside the plausible"),
        ({"selling": {"rate": "1.3915"}}, "outside the plausible"),  # KRW per USD cent?
        ({"customs": {"rate": "139150"}}, "outside the plausible"),
        ({"selling": {"rate": "NaN"}}, "outside the plausible"),
        ({"selling": {"rate": "1,391.50"}}, "is not a number"),
        ({"selling": {"rate": True}}, "is not a number"),
        ({"selling": {"rate": None}}, "is not a number"),
        ({"customs": None}, "no customs rate"),
        ({"selling": {"published_at": "2025-06-04T09:00:00"}}, "has no time zone"),
        ({"selling": {"published_at": "yesterday"}}, "is invalid"),
        ({"selling": {"published_at": "2999-01-01T09:00:00+09:00"}}, "in the future"),
    ],
)
def test_an_implausible_answer_stores_nothing_not_even_the_good_rate(
    fx_rate_source, last_good_rates, state, reason
):
    fx_rate_source.state("fx", **state)

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_INVALID
    assert reason in result.detail
    _assert_last_good_rates_kept()


def test_a_4xx_answer_is_invalid_not_retried(fx_rate_source, settings, last_good_rates):
    settings.FX_RATE_SOURCE_URL = fx_rate_source.url + "/fx/nowhere"

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_INVALID
    assert "404" in result.detail
    assert ExchangeRate.objects.count() == 2


def test_failures_are_logged_without_credentials(fx_rate_source, settings, caplog):
    settings.FX_RATE_SOURCE_URL = (
        settings.FX_RATE_SOURCE_URL.replace("http://", "http://user:hunter2@")
        + "?api_key=TOPSECRET"
    )
    fx_rate_source.faults("fx", fail_next=100)

    result = fx_rates_refresh()

    assert result.outcome is FxRefreshOutcome.SOURCE_UNAVAILABLE
    # The key did reach the source, next to our own parameter...
    assert fx_rate_source.requests("fx")[0]["query"] == {"api_key": "TOPSECRET", "base": "USD"}
    # ...but never our log or the result (werkzeug's lines are the sandbox's, i.e. the
    # remote server's own log, so they do not count).
    our_log = "\n".join(
        record.getMessage() for record in caplog.records if record.name != "werkzeug"
    )
    assert "/fx/rates" in our_log
    for secret in ("TOPSECRET", "hunter2"):
        assert secret not in our_log
        assert secret not in result.detail


def test_the_client_raises_typed_errors(fx_rate_source):
    fx_rate_source.faults("fx", fail_next=100)
    with pytest.raises(FxSourceUnavailable) as unavailable:
        FxRateClient(max_attempts=1).fetch()
    assert unavailable.value.code == "fx_source_unavailable"

    fx_rate_source.reset("fx")
    fx_rate_source.faults("fx", malformed_next=1)
    with pytest.raises(FxSourceInvalid) as invalid:
        FxRateClient().fetch()
    assert invalid.value.code == "fx_source_invalid"


def test_the_client_returns_validated_decimals(fx_rate_source):
    quote = FxRateClient().fetch()

    assert quote.selling.rate == Decimal("1391.5000")
    assert quote.customs.rate == Decimal("1388.2000")
    assert quote.selling.published_at.tzinfo is not None
    assert quote.source == "sandbox"


def test_redact_url_drops_credentials_and_query():
    assert (
        fx_client.redact_url("https://me:pw@rates.example/v1/usd?key=abc#x")
        == "https://rates.example/v1/usd"
    )
