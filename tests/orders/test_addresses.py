"""Saved Korean shipping addresses: services, selectors, the form and the address book pages."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import translation

from orders.forms.addresses import AddressForm
from orders.models import Address
from orders.phones import PhoneInvalid
from orders.selectors.addresses import (
    address_default_for_customer,
    address_get_for_customer,
    addresses_for_customer,
)
from orders.services.addresses import (
    AddressInvalid,
    PostalCodeInvalid,
    address_create,
    address_delete,
    address_set_default,
    address_update,
)

pytestmark = pytest.mark.django_db

PHONE_MESSAGE = "Enter a Korean mobile phone number, like 010-1234-5678."
POSTAL_MESSAGE = "A postal code is 5 digits, like 06236."


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def shopper(django_user_model):
    return django_user_model.objects.create_user(
        username="kim@example.com", email="kim@example.com", password="pw-Strong-2024!"
    )


@pytest.fixture
def other_shopper(django_user_model):
    return django_user_model.objects.create_user(
        username="lee@example.com", email="lee@example.com", password="pw-Strong-2024!"
    )


def make_address(customer, **overrides) -> Address:
    values = {
        "recipient_name": "김철수",
        "phone": "010-1234-5678",
        "postal_code": "06236",
        "road_address": "서울특별시 강남구 테헤란로 152",
        "detail_address": "101동 1001호",
    }
    values.update(overrides)
    return address_create(customer=customer, **values)


def english_client(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- services ----------------------------------------------------------------------------


def test_create_normalises_and_the_first_address_is_the_default(shopper):
    address = make_address(
        shopper,
        recipient_name="  김철수  ",
        phone="+82 10-1234-5678",
        postal_code="062-36",
        road_address=" 서울특별시   강남구 테헤란로 152 ",
        english_name="  Kim  Chulsoo ",
    )
    address.refresh_from_db()
    assert address.recipient_name == "김철수"
    assert address.phone == "+821012345678"
    assert address.postal_code == "06236"
    assert address.road_address == "서울특별시 강남구 테헤란로 152"
    assert address.english_name == "Kim Chulsoo"
    assert address.is_default is True


def test_a_second_address_is_not_the_default_unless_asked(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (True, False)

    third = make_address(shopper, recipient_name="최민수", make_default=True)
    assert list(Address.objects.filter(customer=shopper, is_default=True)) == [third]


def test_set_default_switches_in_one_step_and_is_idempotent(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    address_set_default(address=second)
    address_set_default(address=second)
    assert list(Address.objects.filter(customer=shopper, is_default=True)) == [second]
    address_set_default(address=first)
    assert list(Address.objects.filter(customer=shopper, is_default=True)) == [first]


def test_defaults_are_per_shopper(shopper, other_shopper):
    mine = make_address(shopper)
    theirs = make_address(other_shopper)
    address_set_default(address=mine)
    theirs.refresh_from_db()
    assert theirs.is_default is True


def test_the_database_refuses_two_defaults(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.filter(pk=second.pk).update(is_default=True)
    first.refresh_from_db()
    assert first.is_default is True


def test_a_bad_phone_is_refused_on_its_field_and_nothing_is_saved(shopper):
    with pytest.raises(PhoneInvalid) as caught:
        make_address(shopper, phone="02-123-4567")
    assert caught.value.code == "phone_invalid"
    assert caught.value.fields == {"phone": PHONE_MESSAGE}
    assert not Address.objects.exists()


def test_a_bad_postal_code_is_refused_on_its_field(shopper):
    with pytest.raises(PostalCodeInvalid) as caught:
        make_address(shopper, postal_code="1234")
    assert caught.value.code == "postal_code_invalid"
    assert caught.value.fields == {"postal_code": POSTAL_MESSAGE}
    assert not Address.objects.exists()


def test_several_bad_fields_are_reported_together(shopper):
    with pytest.raises(PhoneInvalid) as caught:
        make_address(shopper, phone="050-1234-5678", postal_code="abcde", road_address="  ")
    assert set(caught.value.fields) == {"phone", "postal_code", "road_address"}
    assert not Address.objects.exists()


@pytest.mark.parametrize("name", ["홍길동", "Kim 3", "Kim_Chulsoo"])
def test_the_english_name_must_be_in_latin_letters(shopper, name):
    with pytest.raises(AddressInvalid) as caught:
        make_address(shopper, english_name=name)
    assert "english_name" in caught.value.fields
    assert not Address.objects.exists()


def test_too_long_text_is_refused(shopper):
    with pytest.raises(AddressInvalid) as caught:
        make_address(shopper, recipient_name="가" * 51)
    assert caught.value.fields == {"recipient_name": "Use at most 50 characters."}


def test_update_changes_only_what_is_given_and_refuses_bad_values_whole(shopper):
    address = make_address(shopper)
    address_update(address=address, phone="011 123 4567", detail_address="")
    address.refresh_from_db()
    assert address.phone == "+82111234567"
    assert address.detail_address == ""
    assert address.recipient_name == "김철수"

    with pytest.raises(PostalCodeInvalid):
        address_update(address=address, recipient_name="박영희", postal_code="0623")
    address.refresh_from_db()
    assert address.recipient_name == "김철수"
    assert address.postal_code == "06236"


def test_update_can_make_default_but_never_takes_it_away(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    address_update(address=first, make_default=False)
    first.refresh_from_db()
    assert first.is_default is True
    address_update(address=second, make_default=True)
    assert list(Address.objects.filter(customer=shopper, is_default=True)) == [second]


def test_deleting_the_default_promotes_another(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    address_delete(address=first)
    second.refresh_from_db()
    assert second.is_default is True
    address_delete(address=second)
    assert not Address.objects.filter(customer=shopper).exists()


def test_deleting_another_address_keeps_the_default(shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    address_delete(address=second)
    first.refresh_from_db()
    assert first.is_default is True


# --- selectors ---------------------------------------------------------------------------


def test_selectors_only_see_the_shoppers_own_addresses(shopper, other_shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희", make_default=True)
    theirs = make_address(other_shopper)
    assert list(addresses_for_customer(customer=shopper)) == [second, first]
    assert address_default_for_customer(customer=shopper) == second
    assert address_get_for_customer(customer=shopper, address_id=first.pk) == first
    with pytest.raises(Http404):
        address_get_for_customer(customer=shopper, address_id=theirs.pk)


# --- form --------------------------------------------------------------------------------


def form_data(**overrides) -> dict:
    data = {
        "recipient_name": "김철수",
        "phone": "010-1234-5678",
        "postal_code": "06236",
        "road_address": "서울특별시 강남구 테헤란로 152",
        "detail_address": "101동 1001호",
        "english_name": "",
    }
    data.update(overrides)
    return data


def test_the_form_cleans_to_service_arguments(shopper):
    form = AddressForm(data=form_data(phone="+82 10 1234 5678", postal_code="062 36"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+821012345678"
    assert form.cleaned_data["postal_code"] == "06236"
    address = address_create(customer=shopper, **form.cleaned_data)
    assert address.phone == "+821012345678"


def test_the_form_shows_the_services_messages_on_the_right_fields():
    form = AddressForm(data=form_data(phone="02-123-4567", postal_code="1234"))
    assert not form.is_valid()
    assert form.errors["phone"] == [PHONE_MESSAGE]
    assert form.errors["postal_code"] == [POSTAL_MESSAGE]
    assert set(form.errors) == {"phone", "postal_code"}


def test_the_form_has_mobile_friendly_inputs():
    html = str(AddressForm())
    assert 'inputmode="numeric"' in html
    for token in ("name", "tel", "postal-code", "address-line1", "address-line2"):
        assert f'autocomplete="{token}"' in html


def test_the_edit_form_shows_the_phone_as_koreans_write_it(shopper):
    address = make_address(shopper)
    form = AddressForm.for_address(address)
    assert form["phone"].value() == "010-1234-5678"
    assert form["make_default"].value() is True


# --- pages -------------------------------------------------------------------------------


def test_the_address_book_requires_login(client):
    url = reverse("orders:addresses")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_list_shows_the_shoppers_addresses_only(client, shopper, other_shopper):
    make_address(shopper)
    make_address(other_shopper, recipient_name="이영희")
    client.force_login(shopper)
    response = english_client(client).get(reverse("orders:addresses"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "김철수" in body
    assert "010-1234-5678" in body
    assert "이영희" not in body


def test_add_saves_and_goes_back_to_the_list(client, shopper):
    client.force_login(shopper)
    response = client.post(reverse("orders:address-add"), form_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:addresses")
    address = Address.objects.get(customer=shopper)
    assert (address.phone, address.is_default) == ("+821012345678", True)


def test_add_follows_a_safe_next_only(client, shopper):
    client.force_login(shopper)
    response = client.post(reverse("orders:address-add"), {**form_data(), "next": "/checkout/"})
    assert response["Location"] == "/checkout/"
    response = client.post(
        reverse("orders:address-add"), {**form_data(), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("orders:addresses")


def test_add_with_a_bad_phone_shows_the_message_and_saves_nothing(client, shopper):
    client.force_login(shopper)
    response = english_client(client).post(
        reverse("orders:address-add"), form_data(phone="050-1234-5678")
    )
    assert response.status_code == 200
    assert "050" in " ".join(response.context["form"].errors["phone"])
    assert "field-invalid" in response.content.decode()
    assert not Address.objects.exists()


def test_edit_updates_the_shoppers_address(client, shopper):
    address = make_address(shopper)
    client.force_login(shopper)
    url = reverse("orders:address-edit", args=[address.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, form_data(recipient_name="박영희"))
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.recipient_name == "박영희"


def test_another_shoppers_address_is_a_404_everywhere(client, shopper, other_shopper):
    theirs = make_address(other_shopper)
    client.force_login(shopper)
    assert client.get(reverse("orders:address-edit", args=[theirs.pk])).status_code == 404
    assert (
        client.post(
            reverse("orders:address-edit", args=[theirs.pk]), form_data(recipient_name="X")
        ).status_code
        == 404
    )
    assert client.post(reverse("orders:address-delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("orders:address-default", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.recipient_name == "김철수"
    assert Address.objects.filter(pk=theirs.pk).exists()


def test_delete_and_make_default_are_post_only(client, shopper):
    first = make_address(shopper)
    second = make_address(shopper, recipient_name="박영희")
    client.force_login(shopper)
    assert client.get(reverse("orders:address-delete", args=[first.pk])).status_code == 405
    assert client.get(reverse("orders:address-default", args=[second.pk])).status_code == 405
    assert Address.objects.filter(customer=shopper).count() == 2

    response = client.post(reverse("orders:address-default", args=[second.pk]))
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.is_default is True

    response = client.post(reverse("orders:address-delete", args=[first.pk]))
    assert response.status_code == 302
    assert list(Address.objects.filter(customer=shopper)) == [second]


# --- concurrency -------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_addresses_and_default_switches_keep_one_default(shopper):
    """Six first addresses saved at once, each asking to be the default: the shopper lock
    runs them one after the other, so none fails on the one-default constraint and exactly
    one address ends up the default."""
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def save(n: int) -> None:
        try:
            start.wait(timeout=30)
            make_address(shopper, recipient_name=f"수령인{n}", make_default=n % 2 == 0)
        except Exception as exc:  # any failure is the test's failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Address.objects.filter(customer=shopper).count() == 6
    assert Address.objects.filter(customer=shopper, is_default=True).count() == 1
