"""The carrier membership points stand-in (sandbox/carrier.py, sandbox/README.md), over HTTP
against the test session's sandbox server."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

HONG, KIM, JANE = "TM1000000001", "TM1000000002", "TM1000000003"
HONG_PHONE = "+821012345678"


class Carrier:
    """A bare HTTP client for /carrier with a bearer token and fresh keys by default."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(
            base_url=f"{url}/carrier", headers={"Authorization": "Bearer test"}, timeout=10
        )

    def post(self, path: str, body: dict | None = None, *, key: str | None = None):
        key = key or uuid.uuid4().hex
        return self.http.post(path, json=body or {}, headers={"Idempotency-Key": key})

    def get(self, path: str, **params):
        return self.http.get(path, params=params)

    def hold(self, member_ref: str = HONG, points: int = 5000, *, key: str | None = None, **more):
        body = {"member_ref": member_ref, "points": points, "reference": "CHK-1", **more}
        return self.post("/holds", body, key=key)

    def member(self, member_ref: str = HONG) -> dict:
        return self.get(f"/members/{member_ref}").json()


@pytest.fixture
def carrier(sandbox_url):
    client = Carrier(sandbox_url)
    yield client
    client.http.close()


def balances(member: dict) -> tuple[int, int, int]:
    return member["balance"], member["held"], member["available"]


# --- auth, keys ----------------------------------------------------------------------------


def test_health_lists_the_carrier_service(sandbox_url):
    assert "carrier" in httpx.get(f"{sandbox_url}/health").json()["services"]


def test_a_request_without_a_bearer_is_401_and_changes_nothing(sandbox_url, sandbox_controls):
    response = httpx.post(
        f"{sandbox_url}/carrier/holds",
        json={"member_ref": HONG, "points": 10, "reference": "x"},
        headers={"Idempotency-Key": "k1"},
    )

    assert response.status_code == 401
    assert httpx.get(f"{sandbox_url}/carrier/members/{HONG}").status_code == 401
    assert sandbox_controls.state("carrier")["holds"] == {}


def test_a_post_without_an_idempotency_key_is_400_and_changes_nothing(carrier, sandbox_controls):
    response = carrier.http.post(
        "/holds", json={"member_ref": HONG, "points": 10, "reference": "x"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_required"
    assert sandbox_controls.state("carrier")["holds"] == {}


# --- OTP -----------------------------------------------------------------------------------


def test_a_code_is_sent_to_a_member_logged_masked_and_verified(carrier, sandbox_controls, caplog):
    caplog.set_level("INFO", logger="sandbox.carrier")

    sent = carrier.post("/otp/send", {"phone": HONG_PHONE})

    assert sent.status_code == 201
    challenge = sent.json()
    assert challenge["challenge_id"].startswith("otp_")
    assert challenge["resend_after_seconds"] == 30
    assert datetime.fromisoformat(challenge["expires_at"]) > datetime.now(UTC)
    sms = sandbox_controls.state("carrier")["sms"]
    assert [(s["phone"], s["challenge_id"]) for s in sms] == [
        (HONG_PHONE, challenge["challenge_id"])
    ]
    code = sms[0]["code"]
    assert len(code) == 6
    assert code.isdigit()
    logged = [r.getMessage() for r in caplog.records if r.name == "sandbox.carrier"]
    assert logged == [f"[carrier sms] +8210****5678: 인증번호 {code}"]

    verified = carrier.post(
        "/otp/verify", {"challenge_id": challenge["challenge_id"], "code": code}
    )

    assert verified.status_code == 200
    assert verified.json() == {
        "member_ref": HONG,
        "phone": HONG_PHONE,
        "tier": "VIP",
        "balance": 80000,
        "held": 0,
        "available": 80000,
        "challenge_id": challenge["challenge_id"],
    }
    again = carrier.post("/otp/verify", {"challenge_id": challenge["challenge_id"], "code": code})
    assert again.status_code == 404
    assert again.json()["error"] == "unknown_challenge"


def send_code(carrier, sandbox_controls, code="123456", phone=HONG_PHONE) -> str:
    sandbox_controls.state("carrier", fixed_code=code)
    response = carrier.post("/otp/send", {"phone": phone})
    assert response.status_code == 201
    return response.json()["challenge_id"]


def test_wrong_codes_count_down_and_the_fifth_kills_the_challenge(carrier, sandbox_controls):
    challenge_id = send_code(carrier, sandbox_controls)

    lefts = []
    for _ in range(5):
        wrong = carrier.post("/otp/verify", {"challenge_id": challenge_id, "code": "000000"})
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "code_mismatch"
        lefts.append(wrong.json()["attempts_left"])
    right = carrier.post("/otp/verify", {"challenge_id": challenge_id, "code": "123456"})

    assert lefts == [4, 3, 2, 1, 0]
    assert right.status_code == 429
    assert right.json()["error"] == "too_many_attempts"


def test_a_code_expires_after_five_minutes(carrier, sandbox_controls):
    challenge_id = send_code(carrier, sandbox_controls)
    later = datetime.now(UTC) + timedelta(minutes=5, seconds=1)
    sandbox_controls.state("carrier", now=later.isoformat())

    response = carrier.post("/otp/verify", {"challenge_id": challenge_id, "code": "123456"})

    assert response.status_code == 410
    assert response.json()["error"] == "code_expired"


def test_a_code_verifies_just_before_it_expires(carrier, sandbox_controls):
    challenge_id = send_code(carrier, sandbox_controls)
    sandbox_controls.state(
        "carrier", now=(datetime.now(UTC) + timedelta(minutes=4, seconds=50)).isoformat()
    )

    response = carrier.post("/otp/verify", {"challenge_id": challenge_id, "code": "123456"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("phone", "status", "error"),
    [
        ("+821011110000", 404, "not_a_member"),
        ("010-1234-5678", 422, "invalid_phone"),
        ("+15551234567", 422, "invalid_phone"),
        (None, 422, "invalid_phone"),
    ],
)
def test_a_code_is_not_sent_to_a_stranger_or_a_bad_phone(
    carrier, sandbox_controls, phone, status, error
):
    response = carrier.post("/otp/send", {"phone": phone})

    assert response.status_code == status
    assert response.json()["error"] == error
    assert sandbox_controls.state("carrier")["sms"] == []


def test_a_sixth_code_within_ten_minutes_is_refused(carrier, sandbox_controls):
    for _ in range(5):
        assert carrier.post("/otp/send", {"phone": HONG_PHONE}).status_code == 201

    sixth = carrier.post("/otp/send", {"phone": HONG_PHONE})
    other_phone = carrier.post("/otp/send", {"phone": "+821098765432"})

    assert sixth.status_code == 429
    assert sixth.json()["error"] == "too_many_codes"
    assert other_phone.status_code == 201
    assert len(sandbox_controls.state("carrier")["sms"]) == 6
    sandbox_controls.state(
        "carrier", now=(datetime.now(UTC) + timedelta(minutes=10, seconds=1)).isoformat()
    )
    assert carrier.post("/otp/send", {"phone": HONG_PHONE}).status_code == 201


def test_an_unknown_challenge_is_404(carrier):
    response = carrier.post("/otp/verify", {"challenge_id": "otp_nope", "code": "123456"})

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_challenge"


# --- members -------------------------------------------------------------------------------


def test_the_demo_members_are_seeded(carrier):
    assert carrier.member(HONG) == {
        "member_ref": HONG,
        "phone": HONG_PHONE,
        "tier": "VIP",
        "balance": 80000,
        "held": 0,
        "available": 80000,
    }
    assert (carrier.member(KIM)["tier"], carrier.member(KIM)["balance"]) == ("GOLD", 25000)
    assert (carrier.member(JANE)["tier"], carrier.member(JANE)["balance"]) == ("SILVER", 3000)


def test_an_unknown_member_is_404(carrier):
    response = carrier.get("/members/TM9")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_member"


# --- holds ---------------------------------------------------------------------------------


def test_a_hold_holds_points(carrier):
    response = carrier.hold(points=5000, key="hold-1")

    assert response.status_code == 201
    hold = response.json()
    assert hold["hold_id"].startswith("hld_")
    assert (hold["status"], hold["points"], hold["member_ref"]) == ("held", 5000, HONG)
    assert (hold["idempotency_key"], hold["reference"]) == ("hold-1", "CHK-1")
    assert hold["refunded_points"] == 0
    assert hold["available"] == 75000
    created = datetime.fromisoformat(hold["created_at"])
    assert datetime.fromisoformat(hold["expires_at"]) - created == timedelta(hours=24)
    [txn] = hold["transactions"]
    assert txn["transaction_id"].startswith("txn_")
    assert (txn["type"], txn["points"], txn["idempotency_key"]) == ("hold", 5000, "hold-1")
    assert (txn["hold_id"], txn["member_ref"], txn["reference"]) == (
        hold["hold_id"],
        HONG,
        "CHK-1",
    )
    assert balances(carrier.member()) == (80000, 5000, 75000)
    assert carrier.get(f"/holds/{hold['hold_id']}").json() == hold


def test_a_hold_over_the_available_points_is_refused(carrier, sandbox_controls):
    carrier.hold(points=70000)

    response = carrier.hold(points=10001)

    assert response.status_code == 409
    assert response.json()["error"] == "insufficient_points"
    assert response.json()["available"] == 10000
    assert balances(carrier.member()) == (80000, 70000, 10000)
    assert len(sandbox_controls.state("carrier")["holds"]) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"points": 0},
        {"points": -5},
        {"points": "100"},
        {"points": 1.5},
        {"expires_at": "2020-01-01T00:00:00+00:00"},
        {"expires_at": "tomorrow"},
        {"expires_at": "2099-01-01T00:00:00"},
        {"reference": None},
    ],
)
def test_a_bad_hold_request_is_422_and_holds_nothing(carrier, sandbox_controls, changes):
    response = carrier.hold(**{"points": 100, **changes})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert sandbox_controls.state("carrier")["holds"] == {}
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_a_hold_for_an_unknown_member_is_404(carrier, sandbox_controls):
    response = carrier.hold(member_ref="TM9")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_member"
    assert sandbox_controls.state("carrier")["holds"] == {}


def test_a_hold_keeps_a_given_expiry(carrier):
    expires_at = datetime.now(UTC) + timedelta(minutes=40)

    hold = carrier.hold(expires_at=expires_at.isoformat()).json()

    assert datetime.fromisoformat(hold["expires_at"]) == expires_at


def test_capture_spends_the_held_points_once(carrier):
    hold = carrier.hold(points=5000).json()

    captured = carrier.post(f"/holds/{hold['hold_id']}/capture", key="cap-1")
    again = carrier.post(f"/holds/{hold['hold_id']}/capture", key="cap-2")

    assert captured.status_code == 200
    assert captured.json()["status"] == "captured"
    assert [t["type"] for t in captured.json()["transactions"]] == ["hold", "capture"]
    assert captured.json()["transactions"][1]["idempotency_key"] == "cap-1"
    assert again.status_code == 200
    assert again.json() == {**captured.json(), "available": 75000}
    assert balances(carrier.member()) == (75000, 0, 75000)


def test_release_gives_the_points_back_once(carrier):
    hold = carrier.hold(points=5000).json()

    released = carrier.post(f"/holds/{hold['hold_id']}/release", key="rel-1")
    again = carrier.post(f"/holds/{hold['hold_id']}/release", key="rel-2")

    assert released.status_code == 200
    assert released.json()["status"] == "released"
    assert [t["type"] for t in released.json()["transactions"]] == ["hold", "release"]
    assert again.status_code == 200
    assert again.json() == released.json()
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_a_released_hold_cannot_be_captured(carrier):
    hold = carrier.hold(points=5000).json()
    carrier.post(f"/holds/{hold['hold_id']}/release")

    response = carrier.post(f"/holds/{hold['hold_id']}/capture")

    assert response.status_code == 409
    assert response.json()["error"] == "hold_not_held"
    assert response.json()["hold"]["status"] == "released"
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_a_captured_hold_cannot_be_released(carrier):
    hold = carrier.hold(points=5000).json()
    carrier.post(f"/holds/{hold['hold_id']}/capture")

    response = carrier.post(f"/holds/{hold['hold_id']}/release")

    assert response.status_code == 409
    assert response.json()["error"] == "hold_not_held"
    assert response.json()["hold"]["status"] == "captured"
    assert balances(carrier.member()) == (75000, 0, 75000)


def test_unknown_holds_are_404(carrier):
    for response in (
        carrier.post("/holds/hld_nope/capture"),
        carrier.post("/holds/hld_nope/release"),
        carrier.get("/holds/hld_nope"),
        carrier.post("/refunds", {"hold_id": "hld_nope", "points": 1, "reference": "R"}),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_hold"


# --- void ----------------------------------------------------------------------------------


def test_void_releases_a_held_hold_found_by_its_key(carrier):
    carrier.hold(points=5000, key="hold-1")

    response = carrier.post("/holds/void", {"hold_key": "hold-1"}, key="void-1")

    assert response.status_code == 200
    assert response.json()["voided"] is True
    hold = response.json()["hold"]
    assert hold["status"] == "released"
    assert hold["transactions"][-1]["idempotency_key"] == "void-1"
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_void_answers_a_released_hold_as_it_is(carrier):
    hold = carrier.hold(points=5000, key="hold-1").json()
    released = carrier.post(f"/holds/{hold['hold_id']}/release").json()

    response = carrier.post("/holds/void", {"hold_key": "hold-1"})

    assert response.status_code == 200
    assert response.json()["hold"] == released
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_void_of_a_captured_hold_is_refused(carrier):
    hold = carrier.hold(points=5000, key="hold-1").json()
    carrier.post(f"/holds/{hold['hold_id']}/capture")

    response = carrier.post("/holds/void", {"hold_key": "hold-1"})

    assert response.status_code == 409
    assert response.json()["error"] == "hold_not_held"
    assert response.json()["hold"]["status"] == "captured"
    assert balances(carrier.member()) == (75000, 0, 75000)


def test_void_before_the_hold_tombstones_its_key(carrier, sandbox_controls):
    voided = carrier.post("/holds/void", {"hold_key": "hold-late"})

    late = carrier.hold(points=5000, key="hold-late")

    assert voided.status_code == 200
    assert voided.json() == {"hold": None, "voided": True}
    assert late.status_code == 409
    assert late.json()["error"] == "key_voided"
    state = sandbox_controls.state("carrier")
    assert state["voided_keys"] == ["hold-late"]
    assert state["holds"] == {}
    assert balances(carrier.member()) == (80000, 0, 80000)


# --- refunds -------------------------------------------------------------------------------


def captured_hold(carrier, points=5000) -> dict:
    hold = carrier.hold(points=points).json()
    return carrier.post(f"/holds/{hold['hold_id']}/capture").json()


def test_a_refund_returns_points_up_to_what_was_captured(carrier):
    hold = captured_hold(carrier)

    first = carrier.post(
        "/refunds", {"hold_id": hold["hold_id"], "points": 2000, "reference": "RF-1"}, key="r1"
    )
    too_much = carrier.post(
        "/refunds", {"hold_id": hold["hold_id"], "points": 3001, "reference": "RF-2"}
    )
    rest = carrier.post(
        "/refunds", {"hold_id": hold["hold_id"], "points": 3000, "reference": "RF-3"}
    )

    assert first.status_code == 201
    refund = first.json()
    assert refund["refund_id"].startswith("rfd_")
    assert refund["points"] == 2000
    assert refund["hold"]["refunded_points"] == 2000
    assert refund["transaction"]["type"] == "refund"
    assert (refund["transaction"]["points"], refund["transaction"]["reference"]) == (2000, "RF-1")
    assert refund["transaction"]["idempotency_key"] == "r1"
    assert too_much.status_code == 409
    assert too_much.json()["error"] == "refund_exceeds_captured"
    assert too_much.json()["refundable"] == 3000
    assert rest.status_code == 201
    assert rest.json()["hold"]["refunded_points"] == 5000
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_a_hold_not_captured_cannot_be_refunded(carrier):
    hold = carrier.hold(points=5000).json()

    response = carrier.post(
        "/refunds", {"hold_id": hold["hold_id"], "points": 100, "reference": "RF-1"}
    )

    assert response.status_code == 409
    assert response.json()["error"] == "hold_not_captured"
    assert balances(carrier.member()) == (80000, 5000, 75000)


@pytest.mark.parametrize("points", [0, -1, "5", None])
def test_a_bad_refund_is_422(carrier, points):
    hold = captured_hold(carrier)

    response = carrier.post(
        "/refunds", {"hold_id": hold["hold_id"], "points": points, "reference": "RF-1"}
    )

    assert response.status_code == 422
    assert balances(carrier.member()) == (75000, 0, 75000)


# --- idempotency ---------------------------------------------------------------------------


def test_the_same_key_replays_the_first_answer_and_applies_nothing_again(carrier, sandbox_controls):
    first = carrier.hold(points=5000, key="hold-1")

    second = carrier.hold(points=5000, key="hold-1")

    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(sandbox_controls.state("carrier")["holds"]) == 1
    assert balances(carrier.member()) == (80000, 5000, 75000)


def test_a_replayed_refusal_is_the_same_refusal(carrier):
    first = carrier.hold(points=90000, key="hold-1")

    second = carrier.hold(points=90000, key="hold-1")

    assert (first.status_code, second.status_code) == (409, 409)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_a_replayed_capture_adds_no_transaction(carrier):
    hold = carrier.hold(points=5000).json()
    carrier.post(f"/holds/{hold['hold_id']}/capture", key="cap-1")

    replay = carrier.post(f"/holds/{hold['hold_id']}/capture", key="cap-1")

    assert replay.headers["Idempotent-Replayed"] == "true"
    current = carrier.get(f"/holds/{hold['hold_id']}").json()
    assert [t["type"] for t in current["transactions"]] == ["hold", "capture"]
    assert balances(carrier.member()) == (75000, 0, 75000)


@pytest.mark.parametrize("reuse", ["other_body", "other_path"])
def test_a_key_reused_for_another_request_is_422(carrier, sandbox_controls, reuse):
    carrier.hold(points=5000, key="k-1")

    if reuse == "other_body":
        response = carrier.hold(points=6000, key="k-1")
    else:
        response = carrier.post("/holds/void", {"hold_key": "k-1"}, key="k-1")

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    [hold] = sandbox_controls.state("carrier")["holds"].values()
    assert hold["status"] == "held"
    assert balances(carrier.member()) == (80000, 5000, 75000)


def test_concurrent_requests_with_one_key_hold_once(carrier, sandbox_controls):
    answers = []

    def post():
        answers.append(carrier.hold(points=1000, key="same").json()["hold_id"])

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(answers)) == 1
    assert len(sandbox_controls.state("carrier")["holds"]) == 1
    assert balances(carrier.member()) == (80000, 1000, 79000)


# --- drop_next -----------------------------------------------------------------------------


def test_a_dropped_change_is_applied_answered_504_and_replayed(
    carrier, sandbox_controls, sandbox_url
):
    sandbox_controls.state("carrier", drop_next=1)
    sandbox_controls.faults("carrier", timeout_seconds=0.2)

    dropped = carrier.hold(points=5000, key="hold-1")
    replay = carrier.hold(points=5000, key="hold-1")

    assert dropped.status_code == 504
    assert dropped.json()["error"] == "dropped"
    [hold] = sandbox_controls.state("carrier")["holds"].values()
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["hold_id"] == hold["hold_id"]
    assert balances(carrier.member()) == (80000, 5000, 75000)
    assert sandbox_controls.state("carrier")["drop_next"] == 0


def test_drop_next_spares_refusals_and_reads(carrier, sandbox_controls):
    sandbox_controls.state("carrier", drop_next=1)

    refused = carrier.hold(points=999999)
    read = carrier.get(f"/members/{HONG}")

    assert refused.status_code == 409
    assert read.status_code == 200
    assert sandbox_controls.state("carrier")["drop_next"] == 1


def test_a_reset_wakes_a_dropped_request(carrier, sandbox_controls):
    sandbox_controls.state("carrier", drop_next=1)
    sandbox_controls.faults("carrier", timeout_seconds=300)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(carrier.hold(points=10)))
    thread.start()
    for _ in range(1000):  # until the hold is applied (the answer is then being held)
        if sandbox_controls.state("carrier")["holds"]:
            break
        thread.join(0.01)

    sandbox_controls.reset("carrier")
    thread.join(10)

    assert not thread.is_alive()
    assert answers[0].status_code == 504


# --- expiry --------------------------------------------------------------------------------


def test_a_hold_past_its_expiry_is_released_by_the_carrier(carrier, sandbox_controls):
    expires_at = datetime.now(UTC) + timedelta(minutes=30)
    hold = carrier.hold(points=5000, expires_at=expires_at.isoformat()).json()
    sandbox_controls.state("carrier", now=(expires_at + timedelta(seconds=1)).isoformat())

    current = carrier.get(f"/holds/{hold['hold_id']}").json()
    capture = carrier.post(f"/holds/{hold['hold_id']}/capture")

    assert current["status"] == "expired"
    release = current["transactions"][-1]
    assert (release["type"], release["idempotency_key"], release["points"]) == (
        "release",
        None,
        5000,
    )
    assert datetime.fromisoformat(release["created_at"]) == expires_at
    assert capture.status_code == 409
    assert capture.json()["error"] == "hold_not_held"
    assert balances(carrier.member()) == (80000, 0, 80000)


def test_a_hold_before_its_expiry_stays_held(carrier, sandbox_controls):
    expires_at = datetime.now(UTC) + timedelta(minutes=30)
    hold = carrier.hold(points=5000, expires_at=expires_at.isoformat()).json()
    sandbox_controls.state("carrier", now=(expires_at - timedelta(seconds=1)).isoformat())

    assert carrier.get(f"/holds/{hold['hold_id']}").json()["status"] == "held"
    assert carrier.post(f"/holds/{hold['hold_id']}/capture").json()["status"] == "captured"


# --- transactions --------------------------------------------------------------------------


def test_transactions_are_listed_by_seoul_day(carrier, sandbox_controls):
    # 2026-01-05 23:30 in Seoul is 14:30 UTC; 00:30 the next Seoul day is 15:30 UTC.
    sandbox_controls.state("carrier", now="2026-01-05T14:30:00+00:00")
    first = carrier.hold(points=1000, key="h1").json()
    sandbox_controls.state("carrier", now="2026-01-05T15:30:00+00:00")
    captured = carrier.post(f"/holds/{first['hold_id']}/capture", key="c1").json()

    day = carrier.get("/transactions", date="2026-01-05")
    next_day = carrier.get("/transactions", date="2026-01-06")

    assert day.status_code == 200
    assert day.json() == {"date": "2026-01-05", "transactions": first["transactions"]}
    assert next_day.json()["transactions"] == captured["transactions"][1:]
    assert carrier.get("/transactions", date="2026-01-04").json()["transactions"] == []


def test_a_bad_transactions_date_is_422(carrier):
    assert carrier.get("/transactions", date="05/01/2026").status_code == 422
    assert carrier.get("/transactions").status_code == 422


def test_the_ledger_can_be_made_to_differ(carrier, sandbox_controls):
    sandbox_controls.state("carrier", now="2026-01-05T01:00:00+00:00")
    hold = carrier.hold(points=1000).json()
    extra = {
        "transaction_id": "txn_extra",
        "type": "capture",
        "member_ref": HONG,
        "hold_id": hold["hold_id"],
        "points": 1000,
        "idempotency_key": None,
        "reference": "CHK-1",
        "created_at": "2026-01-05T02:00:00+00:00",
    }

    sandbox_controls.state(
        "carrier",
        transactions_remove=[hold["transactions"][0]["transaction_id"]],
        transactions_add=[extra],
    )

    listed = carrier.get("/transactions", date="2026-01-05").json()["transactions"]
    assert listed == [extra]


# --- controls ------------------------------------------------------------------------------


def test_members_can_be_added_changed_and_removed(carrier, sandbox_controls):
    sandbox_controls.state(
        "carrier",
        members={
            "TM2": {"phone": "+821022223333", "tier": "GOLD", "balance": 100},
            HONG: {"balance": 10},
            JANE: None,
        },
    )

    assert balances(carrier.member("TM2")) == (100, 0, 100)
    assert carrier.member("TM2")["tier"] == "GOLD"
    assert balances(carrier.member(HONG)) == (10, 0, 10)
    assert carrier.member(HONG)["tier"] == "VIP"
    assert carrier.get(f"/members/{JANE}").status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"unknown": 1},
        {"fixed_code": "12345"},
        {"fixed_code": 123456},
        {"drop_next": -1},
        {"drop_next": True},
        {"now": "2026-01-05T00:00:00"},
        {"now": "soon"},
        {"members": {"TM2": {"phone": "+821022223333", "tier": "GOLD"}}},
        {"members": {HONG: {"tier": "PLATINUM"}}},
        {"members": {HONG: {"phone": "01012345678"}}},
        {"members": {HONG: {"balance": -1}}},
        {"members": {KIM: {"phone": HONG_PHONE}}},
        {"members": {HONG: {"colour": "red"}}},
        {"transactions_remove": ["txn_nope"]},
        {"transactions_add": [{"transaction_id": "txn_x"}]},
        # a good change next to a bad one: neither is applied
        {"fixed_code": "654321", "drop_next": "2"},
    ],
)
def test_bad_controls_are_400_and_change_nothing(sandbox_url, sandbox_controls, changes):
    before = sandbox_controls.state("carrier")

    response = httpx.post(f"{sandbox_url}/_controls/carrier/state", json=changes)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_control"
    assert sandbox_controls.state("carrier") == before


def test_the_state_shows_what_the_carrier_holds(carrier, sandbox_controls):
    carrier.hold(points=1000, key="h1")
    sandbox_controls.state("carrier", fixed_code="111111", drop_next=2)

    state = sandbox_controls.state("carrier")

    assert state["members"][HONG]["held"] == 1000
    [hold] = state["holds"].values()
    assert hold["idempotency_key"] == "h1"
    assert [t["type"] for t in state["transactions"]] == ["hold"]
    assert (state["fixed_code"], state["drop_next"], state["now"]) == ("111111", 2, None)
    assert state["voided_keys"] == []
    assert state["sms"] == []
