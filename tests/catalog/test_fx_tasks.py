"""The Celery task around the FX refresh: it calls the service and retries only while the
source is unavailable (run eagerly with ``apply``, against the sandbox over HTTP)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog import fx_client
from catalog.fx_client import FxSourceUnavailable
from catalog.models import ExchangeRate
from catalog.tasks import fx_rates_refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quick_client_retries(monkeypatch):
    monkeypatch.setattr(fx_client, "RETRY_BACKOFF_SECONDS", 0.01)


def test_the_task_refreshes_the_rates(fx_rate_source):
    outcome = fx_rates_refresh.apply()

    assert outcome.successful()
    assert outcome.result["outcome"] == "stored"
    assert outcome.result["selling_rate"] == "1391.5000"
    assert sorted(ExchangeRate.objects.values_list("kind", "rate")) == [
        ("customs", Decimal("1388.2000")),
        ("selling", Decimal("1391.5000")),
    ]


def test_the_task_retries_while_the_source_is_unavailable_then_gives_up(fx_rate_source):
    fx_rate_source.faults("fx", fail_next=1000)

    outcome = fx_rates_refresh.apply()

    assert outcome.failed()
    assert isinstance(outcome.result, FxSourceUnavailable)
    assert ExchangeRate.objects.count() == 0
    # One first run plus max_retries retries, each making the client's bounded attempts.
    runs = 1 + fx_rates_refresh.max_retries
    assert fx_rate_source.request_count("fx") == runs * fx_client.MAX_ATTEMPTS


def test_the_task_recovers_when_the_source_comes_back_during_retries(fx_rate_source):
    # The first run fails all its attempts; the first retry gets an answer.
    fx_rate_source.faults("fx", fail_next=fx_client.MAX_ATTEMPTS)

    outcome = fx_rates_refresh.apply()

    assert outcome.successful()
    assert outcome.result["outcome"] == "stored"
    assert ExchangeRate.objects.count() == 2


def test_the_task_does_not_retry_an_invalid_answer(fx_rate_source):
    fx_rate_source.faults("fx", malformed_next=1000)

    outcome = fx_rates_refresh.apply()

    assert outcome.successful()
    assert outcome.result["outcome"] == "source_invalid"
    assert ExchangeRate.objects.count() == 0
    assert fx_rate_source.request_count("fx") == 1


def test_the_task_is_registered_for_beat_with_late_acks_and_time_limits(settings):
    assert settings.CELERY_BEAT_SCHEDULE["fx-refresh"]["task"] == fx_rates_refresh.name
    assert fx_rates_refresh.name == "catalog.tasks.fx_rates_refresh"
    assert fx_rates_refresh.acks_late is True
    assert fx_rates_refresh.autoretry_for == (FxSourceUnavailable,)
    assert 0 < fx_rates_refresh.soft_time_limit < fx_rates_refresh.time_limit
