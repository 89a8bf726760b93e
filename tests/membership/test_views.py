"""The shopper's carrier membership pages (/account/membership/): linking over HTTP to the
sandbox carrier (send code → texted code → confirm), its refusals and outages, refresh,
unlink, the tier rules and the points history, access control and the page's query count."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from membership.models import CarrierAccount, PointEntry, TierRule
from membership.views import SESSION_KEY
from tests.factories import OrderFactory
from tests.membership.factories import CarrierAccountFactory, PointHoldFactory, entry_add

pytestmark = pytest.mark.django_db

PAGE = "/account/membership/"
HONG_PHONE = "010-1234-5678"  # sandbox demo member TM1000000001, VIP, balance 80,000
# Session, user, account, tier rules, pending holds, ledger (usable), ledger (held), the
# category menu (base.html, cached afterwards: the test empties the cache), history.
PAGE_QUERIES = 9
DOWN = "The carrier's membership service is not answering. Please try again in a moment."


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser(client, shopper):
    """The test client, signed in as ``shopper``, reading the site in English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(shopper)
    return client


def send_code(browser, phone: str = HONG_PHONE):
    return browser.post(reverse("membership:send-code"), {"phone": phone})


def last_sms(controls) -> dict:
    return controls.state("carrier")["sms"][-1]


def test_page_is_mounted_under_the_account():
    assert reverse("membership:membership") == PAGE


# --- access ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "membership"),
        ("post", "send-code"),
        ("post", "confirm"),
        ("post", "resend"),
        ("post", "refresh"),
        ("get", "unlink"),
        ("post", "unlink"),
    ],
)
def test_anonymous_shopper_is_sent_to_log_in(client, method, name):
    url = reverse(f"membership:{name}")
    response = getattr(client, method)(url, {"phone": HONG_PHONE} if method == "post" else None)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert CarrierAccount.objects.count() == 0


def test_changes_need_a_post_and_the_csrf_token(shopper):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(shopper)
    assert csrf_client.get(reverse("membership:send-code")).status_code == 405
    assert csrf_client.get(reverse("membership:refresh")).status_code == 405
    response = csrf_client.post(reverse("membership:send-code"), {"phone": HONG_PHONE})
    assert response.status_code == 403
    assert SESSION_KEY not in csrf_client.session


# --- linking ---------------------------------------------------------------------------


def test_link_with_the_texted_code(browser, shopper, carrier_points):
    page = browser.get(PAGE)
    assert 'name="phone"' in page.content.decode()

    response = send_code(browser)
    assert response.status_code == 302
    sms = last_sms(carrier_points)
    assert sms["phone"] == "+821012345678"
    assert browser.session[SESSION_KEY] == {
        "challenge_id": sms["challenge_id"],
        "phone": "+821012345678",
    }
    page = browser.get(PAGE).content.decode()
    assert 'name="code"' in page
    assert "010-1234-5678" in page

    response = browser.post(reverse("membership:confirm"), {"code": sms["code"]}, follow=True)

    account = CarrierAccount.objects.get(customer=shopper)
    assert (account.member_ref, account.tier, account.is_linked) == ("TM1000000001", "VIP", True)
    sync = PointEntry.objects.get(account=account)
    assert (sync.kind, sync.available_after, sync.held_after) == ("sync", 80000, 0)
    body = response.content.decode()
    assert "Your carrier membership is linked." in body
    assert "80,000 points" in body
    assert "010-****-5678" in body
    assert "010-1234-5678" not in body
    assert SESSION_KEY not in browser.session


def test_a_wrong_code_shows_the_tries_left_and_links_nothing(browser, carrier_points):
    carrier_points.state("carrier", fixed_code="123456")
    send_code(browser)

    response = browser.post(reverse("membership:confirm"), {"code": "654321"})

    assert response.status_code == 200
    assert response.context["code_form"].errors["code"] == ["The code is not right. 4 tries left."]
    assert "4 tries left" in response.content.decode()
    assert CarrierAccount.objects.count() == 0
    assert PointEntry.objects.count() == 0
    assert SESSION_KEY in browser.session  # the shopper may try again or ask for a new code


def test_a_code_that_is_not_six_digits_is_not_sent_to_the_carrier(browser, carrier_points):
    carrier_points.state("carrier", fixed_code="123456")
    send_code(browser)
    calls_before = len(carrier_points.requests("carrier"))

    response = browser.post(reverse("membership:confirm"), {"code": "12 34"})

    assert response.context["code_form"].errors["code"] == [
        "Enter the 6-digit code from the text message."
    ]
    assert len(carrier_points.requests("carrier")) == calls_before
    assert CarrierAccount.objects.count() == 0


def test_a_number_without_membership_gets_a_field_error(browser, carrier_points):
    response = send_code(browser, "010-2222-3333")

    assert response.status_code == 200
    assert response.context["phone_form"].errors["phone"] == [
        "This number has no carrier membership. Check the number."
    ]
    assert 'value="010-2222-3333"' in response.content.decode()
    assert SESSION_KEY not in browser.session
    assert carrier_points.state("carrier")["sms"] == []


def test_a_number_that_is_not_a_korean_mobile_gets_a_field_error(browser, carrier_points):
    response = send_code(browser, "02-123-4567")

    assert response.context["phone_form"].errors["phone"] == [
        "Enter a Korean mobile phone number, like 010-1234-5678."
    ]
    assert carrier_points.requests("carrier") == []
    assert SESSION_KEY not in browser.session


def test_carrier_down_keeps_the_number_and_links_nothing(browser, carrier_points):
    carrier_points.faults("carrier", fail_next=10)

    response = send_code(browser)

    assert response.status_code == 200
    form = response.context["phone_form"]
    assert form.non_field_errors() == [DOWN]
    body = response.content.decode()
    assert "not answering" in body
    assert f'value="{HONG_PHONE}"' in body
    assert SESSION_KEY not in browser.session
    assert CarrierAccount.objects.count() == 0


def test_carrier_down_at_confirm_links_nothing(browser, carrier_points):
    carrier_points.state("carrier", fixed_code="123456")
    send_code(browser)
    carrier_points.faults("carrier", fail_next=10)

    response = browser.post(reverse("membership:confirm"), {"code": "123456"})

    assert response.context["code_form"].non_field_errors() == [DOWN]
    assert CarrierAccount.objects.count() == 0


def test_resend_replaces_the_challenge_and_restart_forgets_the_number(browser, carrier_points):
    send_code(browser)
    first = browser.session[SESSION_KEY]["challenge_id"]

    response = browser.post(reverse("membership:resend"), follow=True)

    assert "We texted a new code" in response.content.decode()
    second = browser.session[SESSION_KEY]["challenge_id"]
    assert second != first
    assert second == last_sms(carrier_points)["challenge_id"]

    response = browser.post(reverse("membership:restart"), follow=True)
    assert SESSION_KEY not in browser.session
    assert 'name="phone"' in response.content.decode()


# --- linked ----------------------------------------------------------------------------


def test_refresh_records_the_carriers_balance(browser, shopper, carrier_points):
    account = CarrierAccountFactory(customer=shopper, carrier_balance=20000, synced_at=None)
    entry_add(account=account, points=20000)  # the carrier's GOLD member now has 25,000

    response = browser.post(reverse("membership:refresh"), follow=True)

    account.refresh_from_db()
    assert account.carrier_balance == 25000
    assert account.synced_at is not None
    latest = PointEntry.objects.filter(account=account).order_by("-sequence").first()
    assert (latest.kind, latest.available_delta, latest.available_after) == ("sync", 5000, 25000)
    body = response.content.decode()
    assert "Your points balance was updated." in body
    assert "25,000 points" in body


def test_refresh_when_the_carrier_is_down_says_so_and_changes_nothing(
    browser, shopper, carrier_points
):
    account = CarrierAccountFactory(customer=shopper, carrier_balance=20000)
    entry_add(account=account, points=20000)
    carrier_points.faults("carrier", fail_next=10)

    response = browser.post(reverse("membership:refresh"), follow=True)

    assert response.status_code == 200
    body = response.content.decode()
    assert "not answering" in body
    assert "20,000 points" in body
    account.refresh_from_db()
    assert account.carrier_balance == 20000
    assert PointEntry.objects.filter(account=account).count() == 1


def test_unlink_asks_first_then_unlinks(browser, shopper):
    account = CarrierAccountFactory(customer=shopper)

    confirm_page = browser.get(reverse("membership:unlink"))
    assert confirm_page.status_code == 200
    assert "010-****-5432" in confirm_page.content.decode()
    account.refresh_from_db()
    assert account.is_linked  # the GET only asks

    response = browser.post(reverse("membership:unlink"), follow=True)

    account.refresh_from_db()
    assert account.unlinked_at is not None
    body = response.content.decode()
    assert "Your carrier membership is unlinked." in body
    assert 'name="phone"' in body


def test_linked_page_shows_tier_points_rules_and_history_with_the_order_link(browser, shopper):
    account = CarrierAccountFactory(customer=shopper, tier="GOLD")
    entry_add(account=account, points=25000)
    order = OrderFactory(number="T00000777")
    hold = PointHoldFactory(account=account, order=order, points=3000)
    entry_add(account=account, kind=PointEntry.Kind.HOLD, points=3000, hold=hold)

    response = browser.get(PAGE)

    assert response.status_code == 200
    body = response.content.decode()
    assert "GOLD" in body
    assert "22,000 points" in body  # usable now
    assert "3,000 points" in body  # held
    assert "010-****-5432" in body
    assert 'action="/account/membership/refresh/"' in body
    # The tier rules from the seed, rate as a percentage and cap in won.
    assert TierRule.objects.filter(is_active=True).count() == 3
    assert "<td>10%</td>" in body  # VIP, GOLD
    assert "<td>5%</td>" in body  # SILVER
    assert "<td>₩30,000</td>" in body  # GOLD's cap
    # The history: newest first, the hold linked to its order.
    assert f'href="{order.get_absolute_url()}"' in body
    assert "Held for an order" in body
    assert "Balance from carrier" in body
    assert "-3,000" in body
    assert "+25,000" in body
    assert body.index("Held for an order") < body.index("Balance from carrier")


def test_another_shoppers_membership_and_history_never_show(browser, shopper, make_shopper):
    theirs = CarrierAccountFactory(customer=make_shopper(), phone="+821055550123")
    entry_add(account=theirs, points=12345)

    body = browser.get(PAGE).content.decode()

    assert 'name="phone"' in body  # the shopper is not linked
    assert "12,345" not in body
    assert "010-****-0123" not in body
    assert "No points activity yet." in body


def test_profile_shows_the_membership_or_the_way_to_link_it(browser, shopper):
    body = browser.get(reverse("accounts:profile")).content.decode()
    assert "Link your carrier membership" in body
    assert f'href="{PAGE}"' in body

    CarrierAccountFactory(customer=shopper, tier="GOLD", carrier_balance=25000)
    body = browser.get(reverse("accounts:profile")).content.decode()
    assert "GOLD · 25,000 points" in body
    assert "Link your carrier membership" not in body


# --- queries ---------------------------------------------------------------------------


def _history(account, count: int) -> None:
    """``count`` entries: the balance from the carrier, then holds for orders."""
    entry_add(account=account, points=100_000)
    for _ in range(count - 1):
        hold = PointHoldFactory(account=account, order=OrderFactory(), points=1000)
        entry_add(account=account, kind=PointEntry.Kind.HOLD, points=1000, hold=hold)


def test_page_queries_do_not_grow_with_the_history(
    browser, shopper, make_shopper, django_assert_num_queries
):
    _history(CarrierAccountFactory(customer=shopper), 1)
    other = make_shopper()
    _history(CarrierAccountFactory(customer=other, member_ref="TM1000000003"), 10)

    cache.clear()
    with django_assert_num_queries(PAGE_QUERIES):
        body = browser.get(PAGE).content.decode()
    assert body.count('class="entry-hold"') == 0
    browser.force_login(other)
    cache.clear()
    with django_assert_num_queries(PAGE_QUERIES):
        body = browser.get(PAGE).content.decode()
    assert body.count('class="entry-hold"') == 9
