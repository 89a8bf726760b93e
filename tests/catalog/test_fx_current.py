"""Which rate is current: the newest one whose effective moment has come."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import ExchangeRate
from catalog.selectors import fx_rate_current
from tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db


def test_next_weeks_customs_rate_published_on_friday_waits_for_sunday():
    now = timezone.now()
    ExchangeRateFactory(
        kind=ExchangeRate.Kind.CUSTOMS,
        rate=Decimal("1380"),
        effective_at=now - datetime.timedelta(days=3),
    )
    ExchangeRateFactory(
        kind=ExchangeRate.Kind.CUSTOMS,
        rate=Decimal("1399"),
        effective_at=now + datetime.timedelta(days=2),
    )
    assert fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS).rate == Decimal("1380")


def test_customs_rate_falls_back_to_the_selling_rate_before_any_is_published():
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1401.5"))
    assert fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS).rate == Decimal("1401.5")


def test_seed_rate_from_settings_until_the_first_refresh(settings):
    settings.FX_SEED_USD_KRW = Decimal("1333.00")
    current = fx_rate_current()
    assert (current.rate, current.source) == (Decimal("1333.00"), "seed")


def test_refresh_stores_the_customs_rate_as_of_the_sunday_its_week_starts(fx_rate_source):
    from catalog.services.fx import fx_rates_refresh

    assert fx_rates_refresh().ok
    customs = ExchangeRate.objects.get(kind=ExchangeRate.Kind.CUSTOMS)
    seoul = timezone.localtime(customs.effective_at)
    assert (seoul.weekday(), seoul.hour, seoul.minute) == (6, 0, 0)  # Sunday 00:00 KST
    assert customs.effective_at <= timezone.now()
    assert fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS).rate == customs.rate
