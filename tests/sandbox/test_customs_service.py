"""The customs PCCC check stand-in (sandbox/customs.py, sandbox/README.md)."""

from __future__ import annotations

import pytest

from sandbox.app import create_app
from sandbox.customs import DEMO_REGISTRATIONS, REASONS, normalize_phone

HONG_REGISTRATION = {
    "name": "홍길동",
    "phone": "+821012345678",
    "postal_code": "06236",
    "address": "서울특별시 강남구 테헤란로 152",
}
HONG = {
    "pccc": "P100000000001",
    "name": "홍길동",
    "phone": "+821012345678",
    "postal_code": "06236",
    "address": "서울특별시 강남구 테헤란로 152",
}


@pytest.fixture
def client():
    """The Flask test client of a fresh app: no server, no shared state."""
    return create_app().test_client()


def verify(client, **changes):
    response = client.post("/customs/pccc/verify", json={**HONG, **changes})
    assert response.status_code == 200
    return response.get_json()


def test_health_lists_the_customs_service(client):
    assert "customs" in client.get("/health").get_json()["services"]


def test_a_demo_registration_matches(client):
    assert verify(client) == {"valid": True}


@pytest.mark.parametrize(
    "changes",
    [
        {"pccc": "p1000-0000-0001"},
        {"name": "  홍길동 "},
        {"phone": "010-1234-5678"},
        {"phone": "01012345678"},
        {"phone": "+82 10 1234 5678"},
        {"postal_code": " 06236 "},
        {"address": "서울특별시   강남구 테헤란로  152"},
    ],
)
def test_matching_is_normalised(client, changes):
    assert verify(client, **changes) == {"valid": True}


def test_latin_names_and_addresses_match_case_insensitively(client):
    jane = DEMO_REGISTRATIONS["P100000000003"]

    answer = verify(
        client,
        pccc="P100000000003",
        name="JANE  doe",
        phone="010-5555-0123",
        postal_code=jane["postal_code"],
        address=jane["address"],
    )

    assert answer == {"valid": True}


def test_an_unknown_pccc_fails_on_the_pccc_alone(client):
    answer = verify(client, pccc="P999999999999", name="누구")

    assert answer == {"valid": False, "reasons": {"pccc": REASONS["pccc_unknown"]}}


def test_a_malformed_or_withdrawn_pccc_fails_on_the_pccc(client):
    assert verify(client, pccc="P123")["reasons"] == {"pccc": REASONS["pccc_shape"]}
    assert verify(client, pccc="P100000000009")["reasons"] == {"pccc": REASONS["pccc_withdrawn"]}


def test_each_mismatch_is_named_and_only_those(client):
    answer = verify(
        client, name="김철수", phone="010-9999-8888", postal_code="06237", address="다른 주소"
    )

    assert answer == {
        "valid": False,
        "reasons": {
            "name": REASONS["name"],
            "phone": REASONS["phone"],
            "postal_code": REASONS["postal_code"],
            "address": REASONS["address"],
        },
    }
    assert set(verify(client, postal_code="06237")["reasons"]) == {"postal_code"}


@pytest.mark.parametrize("phone", ["0504-1234-5678", "050-1234-5678", "+82 504 1234 5678"])
def test_a_masked_050_number_fails_on_the_phone(client, phone):
    assert verify(client, phone=phone) == {
        "valid": False,
        "reasons": {"phone": REASONS["phone_masked"]},
    }


def test_a_masked_number_fails_even_when_it_is_the_registered_one(client):
    client.post(
        "/_controls/customs/state",
        json={"registrations": {"P100000000005": {**HONG_REGISTRATION, "phone": "0504-1234-5678"}}},
    )

    answer = verify(client, pccc="P100000000005", phone="0504-1234-5678")

    assert answer["reasons"] == {"phone": REASONS["phone_masked"]}


def test_before_2026_01_05_only_name_and_phone_must_match(client):
    client.post("/_controls/customs/state", json={"today": "2026-01-04"})

    assert verify(client, postal_code="99999", address="아무 주소") == {"valid": True}
    assert set(verify(client, name="김철수", postal_code="99999")["reasons"]) == {"name"}

    client.post("/_controls/customs/state", json={"today": "2026-01-05"})

    assert set(verify(client, postal_code="99999", address="아무 주소")["reasons"]) == {
        "postal_code",
        "address",
    }


def test_controls_add_and_remove_registrations(client):
    response = client.post(
        "/_controls/customs/state",
        json={
            "registrations": {
                "p2000-0000-0001": {
                    "name": "박지성",
                    "phone": "010-2222-3333",
                    "postal_code": "12345",
                    "address": "경기도 수원시 팔달구 효원로 1",
                },
                "P100000000001": None,
            }
        },
    )

    assert response.status_code == 200
    registrations = response.get_json()["registrations"]
    assert registrations["P200000000001"]["phone"] == "+821022223333"  # stored in E.164
    assert "P100000000001" not in registrations
    assert verify(client)["reasons"] == {"pccc": REASONS["pccc_unknown"]}
    new = {
        "pccc": "P200000000001",
        "name": "박지성",
        "phone": "+821022223333",
        "postal_code": "12345",
        "address": "경기도 수원시 팔달구 효원로 1",
    }
    assert verify(client, **new) == {"valid": True}

    client.post("/_controls/customs/reset")
    assert verify(client) == {"valid": True}  # the demo registrations are back


@pytest.mark.parametrize(
    "payload",
    [
        {"registrations": {"P123": HONG_REGISTRATION}},
        {"registrations": {"P200000000001": {"name": "x"}}},
        {"registrations": {"P200000000001": {**HONG_REGISTRATION, "colour": "red"}}},
        {"registrations": {"P200000000001": {**HONG_REGISTRATION, "phone": "02-123-4567"}}},
        {"registrations": {"P200000000001": {**HONG_REGISTRATION, "active": "no"}}},
        {"registrations": ["P200000000001"]},
        {"today": "yesterday"},
        {"full_match_from": None},
        {"explode": 1},
        # One good change with one bad one: nothing is applied.
        {"registrations": {"P300000000001": HONG_REGISTRATION, "P3": None}},
    ],
)
def test_bad_state_controls_are_refused_and_change_nothing(client, payload):
    before = client.get("/_controls/customs/state").get_json()

    response = client.post("/_controls/customs/state", json=payload)

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_control"
    assert client.get("/_controls/customs/state").get_json() == before


@pytest.mark.parametrize(
    "body",
    [None, ["P100000000001"], {"pccc": "P100000000001"}, {**HONG, "phone": 1012345678}],
)
def test_a_malformed_request_is_a_json_400(client, body):
    response = client.post("/customs/pccc/verify", json=body)

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


def test_faults_apply_to_the_customs_endpoint(client):
    client.post("/_controls/customs/faults", json={"fail_next": 1, "malformed_next": 1})

    first = client.post("/customs/pccc/verify", json=HONG)
    second = client.post("/customs/pccc/verify", json=HONG)
    third = client.post("/customs/pccc/verify", json=HONG)

    assert first.status_code == 500
    assert second.status_code == 200
    with pytest.raises(ValueError):
        second.get_json(force=True)
    assert third.get_json() == {"valid": True}
    journal = client.get("/_controls/customs/requests").get_json()["requests"]
    assert [entry["fault"] for entry in journal] == ["fail", "malformed", None]
    assert all("P100000000001" not in str(entry) for entry in journal)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("010-1234-5678", "+821012345678"),
        ("011-123-4567", "+82111234567"),
        ("+82 10-1234-5678", "+821012345678"),
        ("+82 010 1234 5678", "+821012345678"),
        ("0504-1234-5678", "+8250412345678"),
        ("02-123-4567", None),
        ("010-12", None),
        ("phone", None),
        ("０１０-1234-5678", None),  # full-width digits
    ],
)
def test_normalize_phone(raw, e164):
    assert normalize_phone(raw) == e164
