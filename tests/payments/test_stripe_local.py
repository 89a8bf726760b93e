"""The Stripe stand-in itself (sandbox/stripe_local.py, sandbox/README.md): what it adds to
localstripe, over real HTTP. The client's behaviour is in test_stripe_client.py."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sandbox.testing import StripeLocalServer

SECRET_KEY = {"Authorization": "Bearer sk_test_localstripe"}


@pytest.fixture
def api(stripe_server, stripe_local):
    """Raw HTTP to the stand-in, authenticated with a secret key like a server."""
    with httpx.Client(base_url=stripe_server.url, headers=SECRET_KEY, timeout=10) as client:
        yield client


def create_intent(api: httpx.Client, amount: int = 15000, **headers: str) -> dict:
    response = api.post(
        "/v1/payment_intents",
        data={"amount": amount, "currency": "krw", "payment_method_types[0]": "card"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_js_is_localstripes_with_our_shim_appended(stripe_server, stripe_local):
    response = httpx.get(stripe_server.js_url)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    original = response.text.index("const LOCALSTRIPE_BASE_API")
    shim = response.text.index("stripe.confirmCardPayment = async function")
    assert original < shim
    assert "/_confirm_card" in response.text[original:]


def test_faults_touch_the_api_only(stripe_server, stripe_local, api):
    stripe_local.faults(fail_next=1, fail_status=503)

    assert httpx.get(stripe_server.js_url).status_code == 200
    assert stripe_local.overview()["faults"]["fail_next"] == 1  # controls: not faulted
    failed = api.post("/v1/payment_intents", data={"amount": 100, "currency": "krw"})
    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "api_error"
    assert stripe_local.objects("payment_intent") == []  # a failed request is not applied
    assert create_intent(api)["status"] == "requires_payment_method"  # counter used up


def test_bad_fault_settings_change_nothing(stripe_server, stripe_local):
    response = httpx.post(
        f"{stripe_server.url}/_controls/faults", json={"fail_next": 2, "fail_status": 404}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "bad_control"
    assert stripe_local.faults()["fail_next"] == 0


def test_confirm_card_needs_the_publishable_key_and_the_client_secret(
    stripe_server, stripe_local, api
):
    intent = create_intent(api)
    url = f"{stripe_server.url}/v1/payment_intents/{intent['id']}/_confirm_card"
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2040", "cvc": "123"}

    no_key = httpx.post(url, content=json.dumps({"client_secret": intent["client_secret"]}))
    wrong_secret = httpx.post(
        url,
        content=json.dumps(
            {"key": "pk_test_x", "client_secret": f"{intent['id']}_secret_wrong", "card": card}
        ),
    )

    assert no_key.status_code == 401
    assert wrong_secret.status_code == 400
    assert wrong_secret.json()["error"]["code"] == "payment_intent_invalid_parameter"
    assert stripe_local.objects("payment_method") == []
    assert stripe_local.objects("charge") == []


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ({"number": "4242424242424241"}, "invalid_number"),  # fails the Luhn check
        ({"number": "42424242"}, "invalid_number"),
        ({"exp_month": "13"}, "invalid_expiry_month"),
        ({"exp_year": "2019"}, "invalid_expiry_year"),
        ({"cvc": "12"}, "invalid_cvc"),
    ],
)
def test_unusable_card_fields_are_refused_before_anything_is_created(stripe_local, api, card, code):
    intent = create_intent(api)
    fields = {"exp_month": 12, "exp_year": 2040, "cvc": "123"} | card
    answer = stripe_local.confirm_card(
        intent["id"],
        intent["client_secret"],
        fields.pop("number", "4242424242424242"),
        **fields,
    )

    assert answer["error"]["code"] == code
    assert stripe_local.objects("payment_method") == []
    assert stripe_local.objects("charge") == []


def test_a_paid_intent_cannot_be_confirmed_again(stripe_local, api):
    intent = create_intent(api)
    stripe_local.confirm_card(intent["id"], intent["client_secret"], "4242424242424242")

    again = stripe_local.confirm_card(intent["id"], intent["client_secret"], "4242424242424242")

    assert again["error"]["code"] == "payment_intent_unexpected_state"
    assert len(stripe_local.objects("charge")) == 1


def test_server_side_confirm_with_a_payment_method(stripe_local, api):
    intent = create_intent(api)

    paid = api.post(
        f"/v1/payment_intents/{intent['id']}/confirm", data={"payment_method": "pm_card_visa"}
    )
    declined_intent = create_intent(api)
    declined = api.post(
        f"/v1/payment_intents/{declined_intent['id']}/confirm",
        data={"payment_method": "pm_card_visa_chargeDeclined"},
    )

    assert paid.status_code == 200
    assert paid.json()["status"] == "succeeded"
    assert declined.status_code == 402
    assert declined.json()["error"]["code"] == "card_declined"
    assert declined.json()["error"]["payment_intent"]["status"] == "requires_payment_method"


def test_the_same_key_on_another_endpoint_is_refused(stripe_local, api):
    create_intent(api, **{"Idempotency-Key": "key-1"})

    response = api.post(
        "/v1/customers", data={"email": "a@example.com"}, headers={"Idempotency-Key": "key-1"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    assert stripe_local.objects("customer") == []


def test_a_replay_says_so(stripe_local, api):
    first = api.post(
        "/v1/payment_intents",
        data={"amount": 15000, "currency": "krw"},
        headers={"Idempotency-Key": "key-1"},
    )
    again = api.post(
        "/v1/payment_intents",
        data={"amount": 15000, "currency": "krw"},
        headers={"Idempotency-Key": "key-1"},
    )

    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_reset_forgets_objects_faults_and_keys(stripe_local, api):
    create_intent(api, **{"Idempotency-Key": "key-1"})
    stripe_local.faults(latency_ms=5, fail_next=3)

    stripe_local.reset()

    overview = stripe_local.overview()
    assert overview["objects"] == {}
    assert overview["faults"]["fail_next"] == 0
    assert overview["faults"]["latency_ms"] == 0
    assert overview["idempotency_keys"] == 0
    assert create_intent(api, amount=20000, **{"Idempotency-Key": "key-1"})["amount"] == 20000


def test_cors_lets_the_shop_page_call_it(stripe_server, stripe_local):
    origin = {"Origin": "http://127.0.0.1:8000"}

    preflight = httpx.options(f"{stripe_server.url}/v1/payment_intents/pi_x/_confirm_card")
    js = httpx.get(stripe_server.js_url, headers=origin)

    assert preflight.status_code == 204
    assert js.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"


def test_the_store_is_not_pickled_to_disk(stripe_local, api):
    pickle = Path("/tmp/localstripe.pickle")  # localstripe's own path
    before = pickle.stat().st_mtime_ns if pickle.exists() else None

    create_intent(api)

    assert (pickle.stat().st_mtime_ns if pickle.exists() else None) == before


def test_one_server_per_process(stripe_server):
    with pytest.raises(RuntimeError, match="one per process"):
        StripeLocalServer().start()
