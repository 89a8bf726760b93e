"""``fail_ratio`` (with ``fail_seed``): a seeded share of requests fails, in the sandbox
services and in localstripe, repeatably for one seed; 0 turns it off (issue 7 faults)."""

from __future__ import annotations

import httpx
import pytest

from sandbox.app import create_app


def statuses(client, n: int) -> list[int]:
    return [client.get("/fx/rates").status_code for _ in range(n)]


def test_sandbox_fail_ratio_fails_a_seeded_share_repeatably():
    client = create_app().test_client()
    client.post("/_controls/fx/faults", json={"fail_ratio": 0.3, "fail_seed": 7})
    first = statuses(client, 200)
    client.post("/_controls/fx/faults", json={"fail_seed": 7})  # reseeded: same sequence
    again = statuses(client, 200)

    assert first == again
    assert set(first) == {200, 500}
    assert 40 <= first.count(500) <= 80  # about 30 % of 200
    client.post("/_controls/fx/faults", json={"fail_ratio": 0})
    assert set(statuses(client, 50)) == {200}


@pytest.mark.parametrize("ratio", [-0.1, 1.5, True])
def test_sandbox_fail_ratio_outside_0_to_1_is_refused(ratio):
    client = create_app().test_client()
    response = client.post("/_controls/fx/faults", json={"fail_ratio": ratio})
    assert response.status_code == 400
    assert client.get("/_controls/fx/faults").get_json()["fail_ratio"] == 0


def test_localstripe_fail_ratio_fails_a_seeded_share(stripe_local):
    stripe_local.faults(fail_ratio=0.3, fail_seed=3, fail_status=503)
    with httpx.Client(base_url=stripe_local.url) as client:
        codes = [
            client.get("/v1/customers", auth=("sk_test_x", "")).status_code for _ in range(100)
        ]
    assert 503 in codes
    assert 200 in codes
    assert 15 <= codes.count(503) <= 45
    stripe_local.faults(fail_ratio=0)
    with pytest.raises(httpx.HTTPStatusError):
        stripe_local.faults(fail_ratio=2)
