"""The Amazon sourcing stand-in (sandbox/sourcing.py, sandbox/README.md)."""

from __future__ import annotations

import pytest

from sandbox.app import create_app


@pytest.fixture
def client():
    """The Flask test client of a fresh app: no server, no shared state."""
    return create_app().test_client()


def order(client, *, key="po-1", destination="customer", **line):
    body = {
        "reference": "PO-1",
        "destination": destination,
        "lines": [
            {
                "asin": "B000000001",
                "quantity": 2,
                "max_unit_price_usd": "20.98",
                "reference": "11",
                "group": "T1",
                **line,
            }
        ],
    }
    return client.post("/sourcing/orders", json=body, headers={"Idempotency-Key": key})


def test_health_lists_the_sourcing_service(client):
    assert "sourcing" in client.get("/health").get_json()["services"]


def test_an_order_at_the_current_price_is_accepted(client):
    response = order(client)

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] == "AMZ-000001"
    assert body["status"] == "accepted"
    assert body["lines"] == [
        {
            "asin": "B000000001",
            "quantity": 2,
            "reference": "11",
            "group": "T1",
            "status": "accepted",
            "unit_price_usd": "20.98",
        }
    ]


def test_the_same_idempotency_key_answers_the_first_answer_and_buys_once(client):
    first = order(client).get_json()
    again = order(client)

    assert again.get_json() == first
    assert again.headers["Idempotent-Replayed"] == "true"
    assert list(client.get("/_controls/sourcing/state").get_json()["orders"]) == [first["id"]]


def test_a_price_above_the_maximum_is_not_bought(client):
    client.post("/_controls/sourcing/state", json={"prices": {"B000000001": "24.50"}})

    body = order(client).get_json()

    assert body["lines"][0]["status"] == "price_changed"
    assert body["lines"][0]["unit_price_usd"] == "24.50"
    assert body["status"] == "cancelled"  # nothing bought


def test_a_lower_price_is_bought_at_that_price(client):
    client.post("/_controls/sourcing/state", json={"prices": {"B000000001": "18"}})

    body = order(client).get_json()

    assert (body["lines"][0]["status"], body["lines"][0]["unit_price_usd"]) == ("accepted", "18.00")


def test_out_of_stock_asins_are_not_bought(client):
    client.post("/_controls/sourcing/state", json={"out_of_stock": ["B000000001"]})

    line = order(client).get_json()["lines"][0]

    assert (line["status"], line["unit_price_usd"]) == ("out_of_stock", None)


def test_simulate_moves_a_customer_order_one_step_per_poll_then_stays(client):
    order_id = order(client).get_json()["id"]

    shipped = client.get(f"/sourcing/orders/{order_id}").get_json()
    again = client.get(f"/sourcing/orders/{order_id}").get_json()

    assert shipped["status"] == again["status"] == "shipped"
    assert shipped["carrier"] == "gs-intl"
    assert shipped["parcels"] == [
        {"group": "T1", "carrier": "gs-intl", "tracking_number": shipped["tracking_number"]}
    ]


def test_a_warehouse_order_is_delivered_after_shipping(client):
    order_id = order(client, destination="warehouse").get_json()["id"]

    statuses = [client.get(f"/sourcing/orders/{order_id}").get_json()["status"] for _ in range(3)]
    delivered = client.get(f"/sourcing/orders/{order_id}").get_json()

    assert statuses == ["shipped", "delivered_to_warehouse", "delivered_to_warehouse"]
    assert delivered["delivery_id"] == f"DLV-{order_id}"


def test_without_simulate_orders_move_only_by_control(client):
    client.post("/_controls/sourcing/state", json={"simulate": False})
    order_id = order(client).get_json()["id"]

    assert client.get(f"/sourcing/orders/{order_id}").get_json()["status"] == "accepted"
    client.post("/_controls/sourcing/state", json={"orders": {order_id: {"status": "shipped"}}})
    assert client.get(f"/sourcing/orders/{order_id}").get_json()["status"] == "shipped"


@pytest.mark.parametrize(
    "body",
    [
        {"reference": "PO-1", "lines": []},
        {"lines": [{"asin": "B1", "quantity": 1, "max_unit_price_usd": "1"}]},
        {"reference": "PO-1", "lines": [{"asin": "B1", "quantity": 0, "max_unit_price_usd": "1"}]},
        {"reference": "PO-1", "lines": [{"asin": "B1", "quantity": 1, "max_unit_price_usd": "x"}]},
    ],
)
def test_malformed_orders_are_refused_with_400(client, body):
    assert client.post("/sourcing/orders", json=body).status_code == 400
    assert client.get("/_controls/sourcing/state").get_json()["orders"] == {}


def test_an_unknown_order_is_404(client):
    assert client.get("/sourcing/orders/AMZ-999999").status_code == 404


def test_bad_state_changes_are_refused_and_change_nothing(client):
    response = client.post(
        "/_controls/sourcing/state", json={"prices": {"B1": "2"}, "simulate": "yes"}
    )

    assert response.status_code == 400
    assert client.get("/_controls/sourcing/state").get_json()["prices"] == {}
