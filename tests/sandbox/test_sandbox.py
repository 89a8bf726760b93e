"""The sandbox's own endpoints and controls (sandbox/README.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.app import SERVICES, create_app
from sandbox.fx import customs_validity, default_rates

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def client():
    """The Flask test client of a fresh app: no server, no shared state."""
    return create_app().test_client()


def test_health_answers_200_and_lists_the_services(client):
    response = client.get("/health")

    assert response.status_code == 200
    services = sorted(service.name for service in SERVICES)
    assert "fx" in services
    assert response.get_json() == {"status": "ok", "services": services}


def test_fx_rates_default_to_the_deterministic_selling_and_customs_rates(client):
    response = client.get("/fx/rates?base=USD")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["base"], body["quote"], body["source"]) == ("USD", "KRW", "sandbox")
    selling, customs = body["rates"]["selling"], body["rates"]["customs"]
    assert selling["rate"] == "1391.50"
    assert customs["rate"] == "1388.20"
    selling_at = datetime.fromisoformat(selling["published_at"])
    customs_at = datetime.fromisoformat(customs["published_at"]).astimezone(SEOUL)
    assert selling_at.tzinfo is not None
    assert selling_at <= datetime.now(tz=SEOUL)
    # Published on a Friday, valid the following Sunday to Saturday, covering today.
    assert customs_at.weekday() == 4
    valid_from = date.fromisoformat(customs["valid_from"])
    valid_to = date.fromisoformat(customs["valid_to"])
    assert valid_from.weekday() == 6
    assert valid_to.weekday() == 5
    assert (valid_from - customs_at.date()).days == 2
    assert valid_from <= datetime.now(tz=SEOUL).date() <= valid_to


@pytest.mark.parametrize(
    ("now", "selling_at", "customs_at", "valid_from", "valid_to"),
    [
        # Wednesday before 09:00: yesterday's selling rate; last Friday's customs rate.
        ("2025-06-04T08:59", "2025-06-03T09:00", "2025-05-30T10:00", "2025-06-01", "2025-06-07"),
        ("2025-06-04T09:00", "2025-06-04T09:00", "2025-05-30T10:00", "2025-06-01", "2025-06-07"),
        # Sunday: the first day of the week the Friday publication covers.
        ("2025-06-01T12:00", "2025-06-01T09:00", "2025-05-30T10:00", "2025-06-01", "2025-06-07"),
        # Saturday after a new Friday publication: that one is only valid from tomorrow.
        ("2025-06-07T23:00", "2025-06-07T09:00", "2025-05-30T10:00", "2025-06-01", "2025-06-07"),
    ],
)
def test_default_rates_are_the_publications_in_effect(
    now, selling_at, customs_at, valid_from, valid_to
):
    rates = default_rates(datetime.fromisoformat(now).replace(tzinfo=SEOUL))

    assert rates["selling"]["published_at"] == f"{selling_at}:00+09:00"
    assert rates["customs"]["published_at"] == f"{customs_at}:00+09:00"
    assert (rates["customs"]["valid_from"], rates["customs"]["valid_to"]) == (valid_from, valid_to)


def test_customs_validity_is_the_sunday_to_saturday_week_after_publication():
    assert customs_validity(date(2025, 6, 6)) == (date(2025, 6, 8), date(2025, 6, 14))
    assert customs_validity(date(2025, 6, 8)) == (date(2025, 6, 15), date(2025, 6, 21))


def test_fx_rates_refuse_other_currency_pairs(client):
    response = client.get("/fx/rates?base=EUR")

    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_pair"


def test_state_control_changes_what_fx_serves(client):
    response = client.post(
        "/_controls/fx/state",
        json={
            "selling": {"rate": "1402.25", "published_at": "2025-06-04T09:00:00+09:00"},
            "customs": {"rate": 1399.5, "published_at": "2025-06-06T10:00:00+09:00"},
        },
    )
    assert response.status_code == 200

    rates = client.get("/fx/rates").get_json()["rates"]
    assert rates["selling"] == {"rate": "1402.25", "published_at": "2025-06-04T09:00:00+09:00"}
    assert Decimal(str(rates["customs"]["rate"])) == Decimal("1399.5")
    # The validity week follows the new publication.
    assert (rates["customs"]["valid_from"], rates["customs"]["valid_to"]) == (
        "2025-06-08",
        "2025-06-14",
    )


def test_state_control_can_leave_a_rate_out_and_bring_it_back(client):
    client.post("/_controls/fx/state", json={"customs": None})
    assert "customs" not in client.get("/fx/rates").get_json()["rates"]

    client.post("/_controls/fx/state", json={"customs": {"rate": "1380.00"}})
    assert client.get("/fx/rates").get_json()["rates"]["customs"]["rate"] == "1380.00"


@pytest.mark.parametrize(
    "payload",
    [
        {"selling": {"rate": "1500"}, "bogus": 1},
        {"selling": {"rate": "1500", "colour": "red"}},
        {"selling": "1500"},
        {"source": 7},
        ["not", "an", "object"],
    ],
)
def test_bad_state_controls_are_refused_and_change_nothing(client, payload):
    before = client.get("/_controls/fx/state").get_json()

    response = client.post("/_controls/fx/state", json=payload)

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_control"
    assert client.get("/_controls/fx/state").get_json() == before


def test_fail_next_answers_that_many_500s_then_recovers(client):
    client.post("/_controls/fx/faults", json={"fail_next": 2})

    statuses = [client.get("/fx/rates").status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert client.get("/_controls/fx/faults").get_json()["fail_next"] == 0


def test_fail_status_chooses_the_5xx(client):
    client.post("/_controls/fx/faults", json={"fail_next": 1, "fail_status": 503})

    assert client.get("/fx/rates").status_code == 503


def test_malformed_next_answers_broken_json_with_200(client):
    client.post("/_controls/fx/faults", json={"malformed_next": 1})

    response = client.get("/fx/rates")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    with pytest.raises(ValueError):
        response.get_json(force=True)
    assert client.get("/fx/rates").get_json()["rates"]["selling"]["rate"] == "1391.50"


def test_faults_never_touch_health_or_controls(client):
    client.post("/_controls/fx/faults", json={"fail_next": 5, "malformed_next": 5})

    assert client.get("/health").status_code == 200
    assert client.get("/_controls").status_code == 200
    assert client.get("/_controls/fx/faults").get_json()["fail_next"] == 5


@pytest.mark.parametrize(
    "payload",
    [
        {"fail_next": -1},
        {"fail_next": True},
        {"fail_next": "2"},
        {"fail_next": 1.5},
        {"fail_status": 404},
        {"timeout_seconds": 0},
        {"timeout_seconds": 10_000},
        {"explode": 1},
    ],
)
def test_bad_fault_settings_are_refused_and_change_nothing(client, payload):
    client.post("/_controls/fx/faults", json={"latency_ms": 5})

    response = client.post("/_controls/fx/faults", json={"malformed_next": 1, **payload})

    assert response.status_code == 400
    faults = client.get("/_controls/fx/faults").get_json()
    assert faults["latency_ms"] == 5
    assert faults["malformed_next"] == 0


def test_request_journal_records_queries_and_faults(client):
    client.post("/_controls/fx/faults", json={"fail_next": 1})
    client.get("/fx/rates?base=USD")
    client.get("/fx/rates?base=USD&api_key=abc")
    client.get("/health")

    journal = client.get("/_controls/fx/requests").get_json()

    assert journal["count"] == 2
    assert [(r["query"], r["fault"]) for r in journal["requests"]] == [
        ({"base": "USD"}, "fail"),
        ({"base": "USD", "api_key": "abc"}, None),
    ]


def test_reset_restores_data_faults_and_journal(client):
    client.post("/_controls/fx/state", json={"selling": {"rate": "1500.00"}})
    client.post("/_controls/fx/faults", json={"fail_next": 3, "latency_ms": 100})
    client.get("/fx/rates")

    all_services = sorted(service.name for service in SERVICES)
    assert client.post("/_controls/reset").get_json() == {"reset": all_services}

    overview = client.get("/_controls").get_json()["services"]["fx"]
    assert overview["faults"]["fail_next"] == 0
    assert overview["faults"]["latency_ms"] == 0
    assert overview["request_count"] == 0
    assert overview["state"]["rates"]["selling"]["rate"] == "1391.50"


def test_reset_of_one_service(client):
    client.post("/_controls/fx/faults", json={"fail_next": 3})

    assert client.post("/_controls/fx/reset").get_json() == {"reset": ["fx"]}
    assert client.get("/fx/rates").status_code == 200


def test_unknown_service_and_path_answer_json_404(client):
    response = client.post("/_controls/nope/faults", json={"fail_next": 1})
    assert response.status_code == 404
    assert "nope" in response.get_json()["message"]
    assert client.get("/nowhere").get_json()["error"] == "Not Found"


def test_two_apps_never_share_state():
    first, second = create_app().test_client(), create_app().test_client()

    first.post("/_controls/fx/faults", json={"fail_next": 1})

    assert second.get("/fx/rates").status_code == 200
    assert first.get("/fx/rates").status_code == 500


def test_timeout_fault_holds_the_answer_past_the_client_timeout(sandbox_url, sandbox_controls):
    sandbox_controls.faults("fx", timeout_next=1, timeout_seconds=30)

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sandbox_url}/fx/rates", timeout=0.3)

    # Only one request was held: the next one answers normally.
    assert httpx.get(f"{sandbox_url}/fx/rates", timeout=5).status_code == 200
    assert [r["fault"] for r in sandbox_controls.requests("fx")] == ["timeout", None]


def test_latency_delays_every_answer(sandbox_url, sandbox_controls):
    sandbox_controls.faults("fx", latency_ms=30_000)

    for _ in range(2):
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{sandbox_url}/fx/rates", timeout=0.3)

    sandbox_controls.reset("fx")
    assert httpx.get(f"{sandbox_url}/fx/rates", timeout=5).status_code == 200


def test_reset_wakes_a_request_held_by_a_timeout():
    client = create_app().test_client()
    client.post("/_controls/fx/faults", json={"timeout_next": 1, "timeout_seconds": 300})
    answers: list[int] = []
    held = threading.Thread(target=lambda: answers.append(client.get("/fx/rates").status_code))
    held.start()
    deadline = time.monotonic() + 10
    while client.get("/_controls/fx/requests").get_json()["count"] == 0:
        assert time.monotonic() < deadline, "the held request never arrived"
        time.sleep(0.01)

    client.post("/_controls/reset")
    held.join(timeout=10)

    assert not held.is_alive()
    assert answers == [504]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_sandbox_serves_and_logs_requests():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        rates = httpx.get(f"http://127.0.0.1:{port}/fx/rates?base=USD", timeout=5).json()
        assert rates["rates"]["selling"]["rate"] == "1391.50"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in output
    assert "GET /fx/rates?base=USD" in output
    assert "sandbox stopped" in output  # SIGTERM (how honcho stops it) shuts it down cleanly
    assert process.returncode == 0
