"""The customs PCCC check client (orders/customs_client.py), over HTTP against the sandbox."""

from __future__ import annotations

import logging
import socket

import pytest
from django.utils import translation

from orders.customs_client import CustomsCheckUnavailable, PcccVerification, pccc_verify
from orders.pccc import PcccInvalid
from sandbox.customs import REASONS

PCCC = "P100000000001"
HONG = {
    "pccc": PCCC,
    "name": "홍길동",
    "phone_e164": "+821012345678",
    "postal_code": "06236",
    "address": "서울특별시 강남구 테헤란로 152",
}


@pytest.fixture
def customs(settings, sandbox_url, sandbox_controls):
    """The client talks to the sandbox, with a short timeout so timeouts are quick."""
    settings.CUSTOMS_CHECK_URL = f"{sandbox_url}/customs"
    settings.CUSTOMS_CHECK_TIMEOUT_SECONDS = 0.5
    settings.CUSTOMS_CHECK_RETRIES = 2
    return sandbox_controls


def test_a_registered_recipient_is_valid(customs):
    result = pccc_verify(**HONG)

    assert result == PcccVerification(valid=True, reasons={})
    assert customs.request_count("customs") == 1


def test_the_pccc_is_normalised_before_it_is_sent(customs):
    assert pccc_verify(**{**HONG, "pccc": "p1000-0000-0001"}).valid is True


@pytest.mark.parametrize(
    ("changes", "form_field", "reason"),
    [
        ({"pccc": "P999999999999"}, "pccc", REASONS["pccc_unknown"]),
        ({"name": "김철수"}, "recipient_name", REASONS["name"]),
        ({"phone_e164": "+821099998888"}, "phone", REASONS["phone"]),
        ({"postal_code": "06237"}, "postal_code", REASONS["postal_code"]),
        ({"address": "서울특별시 강남구 테헤란로 999"}, "road_address", REASONS["address"]),
    ],
)
def test_each_refusal_lands_on_our_form_field(customs, changes, form_field, reason):
    result = pccc_verify(**{**HONG, **changes})

    assert result == PcccVerification(valid=False, reasons={form_field: reason})
    assert customs.request_count("customs") == 1  # a refusal is an answer, not retried


def test_several_refusals_come_back_together(customs):
    result = pccc_verify(**{**HONG, "name": "김철수", "address": "다른 주소"})

    assert result.valid is False
    assert set(result.reasons) == {"recipient_name", "road_address"}


def test_a_masked_050_number_is_refused_on_the_phone(customs):
    result = pccc_verify(**{**HONG, "phone_e164": "+8250412345678"})

    assert result == PcccVerification(valid=False, reasons={"phone": REASONS["phone_masked"]})


def test_a_malformed_pccc_is_refused_without_calling_customs(customs):
    with pytest.raises(PcccInvalid):
        pccc_verify(**{**HONG, "pccc": "P1234"})

    assert customs.request_count("customs") == 0


def test_a_timeout_is_retried_and_the_next_answer_used(customs):
    customs.faults("customs", timeout_next=1, timeout_seconds=10)

    result = pccc_verify(**HONG)

    assert result.valid is True
    assert [r["fault"] for r in customs.requests("customs")] == ["timeout", None]


def test_a_500_then_an_answer_succeeds(customs):
    customs.faults("customs", fail_next=2, fail_status=503)

    assert pccc_verify(**HONG).valid is True
    assert customs.request_count("customs") == 3


def test_500s_beyond_the_retries_make_the_check_unavailable(customs):
    customs.faults("customs", fail_next=10)

    with pytest.raises(CustomsCheckUnavailable) as caught, translation.override("en"):
        pccc_verify(**HONG)

    assert caught.value.code == "customs_check_unavailable"
    assert "try again" in caught.value.message
    assert customs.request_count("customs") == 3  # 1 attempt + CUSTOMS_CHECK_RETRIES


def test_the_number_of_retries_comes_from_settings(customs, settings):
    settings.CUSTOMS_CHECK_RETRIES = 0
    customs.faults("customs", fail_next=10)

    with pytest.raises(CustomsCheckUnavailable):
        pccc_verify(**HONG)

    assert customs.request_count("customs") == 1


def test_malformed_json_is_retried(customs):
    customs.faults("customs", malformed_next=1)

    assert pccc_verify(**HONG).valid is True
    assert [r["fault"] for r in customs.requests("customs")] == ["malformed", None]


def test_malformed_json_on_every_attempt_makes_the_check_unavailable(customs):
    customs.faults("customs", malformed_next=10)

    with pytest.raises(CustomsCheckUnavailable):
        pccc_verify(**HONG)

    assert customs.request_count("customs") == 3


def test_timeouts_on_every_attempt_make_the_check_unavailable(customs):
    customs.faults("customs", timeout_next=10, timeout_seconds=10)

    with pytest.raises(CustomsCheckUnavailable):
        pccc_verify(**HONG)

    assert customs.request_count("customs") == 3


def test_an_unreachable_service_is_unavailable(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CUSTOMS_CHECK_URL = f"http://127.0.0.1:{port}/customs"
    settings.CUSTOMS_CHECK_RETRIES = 1

    with pytest.raises(CustomsCheckUnavailable):
        pccc_verify(**HONG)


def test_a_4xx_is_not_retried(customs, settings, sandbox_url, caplog):
    settings.CUSTOMS_CHECK_URL = f"{sandbox_url}/no-such-service"
    caplog.set_level(logging.WARNING, logger="orders.customs_client")

    with pytest.raises(CustomsCheckUnavailable):
        pccc_verify(**HONG)

    levels = [r.levelname for r in caplog.records if r.name == "orders.customs_client"]
    assert levels == ["ERROR"]  # no retry warnings: one refused request


def test_the_pccc_never_reaches_logs_or_exceptions(customs, caplog):
    caplog.set_level(logging.DEBUG)
    customs.faults("customs", timeout_next=1, timeout_seconds=10, fail_next=1, malformed_next=1)

    with pytest.raises(CustomsCheckUnavailable) as caught:
        pccc_verify(**HONG)
    customs.reset("customs")
    pccc_verify(**HONG)
    pccc_verify(**{**HONG, "name": "김철수"})
    pccc_verify(**{**HONG, "pccc": "P999999999999"})

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (PCCC, PCCC[1:], "P999999999999", "999999999999"):
        assert secret not in logged
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value.__cause__)
    assert "P••••••••0001" in caplog.text  # what operators see instead
    assert "P••••••••9999" in caplog.text
    assert "홍길동" not in logged  # nor the recipient's details
