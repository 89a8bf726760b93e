"""The parcel tracking stand-in (sandbox/tracking.py, sandbox/README.md)."""

from __future__ import annotations

import pytest

from sandbox.app import create_app


@pytest.fixture
def client():
    """The Flask test client of a fresh app: no server, no shared state."""
    return create_app().test_client()


def event(event_id, code, occurred_at="2026-01-05T09:00:00+09:00", **fields):
    return {"id": event_id, "code": code, "occurred_at": occurred_at, **fields}


def track(client, carrier, numbers):
    response = client.get(f"/tracking/parcels?carrier={carrier}&numbers={','.join(numbers)}")
    assert response.status_code == 200, response.get_json()
    return {p["number"]: p["events"] for p in response.get_json()["parcels"]}


def control(client, **changes):
    return client.post("/_controls/tracking/state", json=changes)


def test_health_lists_the_tracking_service(client):
    assert "tracking" in client.get("/health").get_json()["services"]


def test_scripted_events_come_back_in_the_carriers_order_with_repeats(client):
    assert control(client, simulate=False).status_code == 200
    added = [
        {"carrier": "cj", "number": "A", **event("e2", "in_transit", "2026-01-05T12:00:00+09:00")},
        {"carrier": "cj", "number": "A", **event("e1", "picked_up", "2026-01-05T09:00:00+09:00")},
        {"carrier": "cj", "number": "A", **event("e2", "in_transit", "2026-01-05T12:00:00+09:00")},
    ]
    assert control(client, add_events=added).status_code == 200
    parcels = track(client, "cj", ["A", "UNKNOWN"])
    assert [e["id"] for e in parcels["A"]] == ["e2", "e1", "e2"]
    assert parcels["A"][1] == {
        "id": "e1",
        "code": "picked_up",
        "occurred_at": "2026-01-05T09:00:00+09:00",
        "location": "",
        "description": "",
    }
    assert parcels["UNKNOWN"] == []
    # Another carrier's parcel with the same number is another parcel.
    assert track(client, "hanjin", ["A"]) == {"A": []}


def test_parcels_can_be_replaced_and_removed(client):
    control(client, simulate=False, parcels={"cj:B": [event("x", "delivered")]})
    assert [e["code"] for e in track(client, "cj", ["B"])["B"]] == ["delivered"]
    control(client, parcels={"cj:B": None})
    assert track(client, "cj", ["B"])["B"] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"add_events": [{"carrier": "pigeon", "number": "A", **event("e", "delivered")}]},
        {"add_events": [{"carrier": "cj", "number": "A", **event("e", "teleported")}]},
        {"add_events": [{"carrier": "cj", "number": "A", "id": "e", "code": "delivered"}]},
        {"add_events": [{"carrier": "cj", "number": "A", **event("e", "delivered", "soon")}]},
        {"simulate": "yes"},
        {"speed": 2},
    ],
)
def test_bad_controls_are_refused_and_change_nothing(client, changes):
    before = client.get("/_controls/tracking/state").get_json()
    response = control(client, **changes)
    assert response.status_code == 400
    assert client.get("/_controls/tracking/state").get_json() == before


def test_unknown_carriers_and_oversized_batches_are_refused(client):
    assert client.get("/tracking/parcels?carrier=pigeon&numbers=A").status_code == 400
    numbers = ",".join(str(n) for n in range(101))
    response = client.get(f"/tracking/parcels?carrier=cj&numbers={numbers}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "too_many_numbers"


def test_simulation_advances_each_unscripted_parcel_one_step_per_poll(client):
    codes = []
    for _ in range(6):
        codes.append([e["code"] for e in track(client, "cj", ["SIM1"])["SIM1"]][-1])
    assert codes == [
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "delivered",
        "delivered",
    ]
    international = [track(client, "gs-intl", ["SIM2"])["SIM2"] for _ in range(6)][-1]
    assert [e["code"] for e in international] == [
        "picked_up",
        "departed_us",
        "arrived_korea",
        "customs_cleared",
        "out_for_delivery",
        "delivered",
    ]
    assert len({e["id"] for e in international}) == 6


def test_simulation_leaves_scripted_parcels_alone(client):
    control(client, add_events=[{"carrier": "cj", "number": "S", **event("s1", "picked_up")}])
    for _ in range(3):
        assert [e["id"] for e in track(client, "cj", ["S"])["S"]] == ["s1"]


def test_faults_apply_to_the_tracking_endpoint(client):
    client.post("/_controls/tracking/faults", json={"fail_next": 1})
    assert client.get("/tracking/parcels?carrier=cj&numbers=A").status_code == 500
    assert client.get("/tracking/parcels?carrier=cj&numbers=A").status_code == 200
