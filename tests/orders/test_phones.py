"""Korean mobile numbers: what shoppers type, what is stored, what is shown."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from orders.phones import PhoneInvalid, phone_display, phone_mask, phone_normalize


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("010-1234-5678", "+821012345678"),
        ("01012345678", "+821012345678"),
        ("+82 10-1234-5678", "+821012345678"),
        ("+821012345678", "+821012345678"),
        ("010 1234 5678", "+821012345678"),
        ("010.1234.5678", "+821012345678"),
        ("  010-1234-5678  ", "+821012345678"),
        ("+82 (0)10 1234 5678", "+821012345678"),
        ("011-123-4567", "+82111234567"),  # old 01X numbers: 7 digits after the prefix
        ("016 123 4567", "+82161234567"),
        ("019-1234-5678", "+821912345678"),
    ],
)
def test_korean_mobile_numbers_become_e164(raw, e164):
    assert phone_normalize(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "1234",
        "02-123-4567",  # Seoul landline
        "031-123-4567",  # Gyeonggi landline
        "070-1234-5678",  # internet phone
        "080-123-4567",  # toll-free
        "1588-1234",  # business number
        "+1 650 253 0000",  # a US number
        "+81 90-1234-5678",  # a Japanese mobile
        "010-1234-56789",  # one digit too many
        "010-12-345",  # too short
        "010-1234-5678 ext. 12",
        "0" * 40,
    ],
)
def test_anything_else_is_refused_on_the_phone_field(raw):
    with pytest.raises(PhoneInvalid) as caught:
        phone_normalize(raw)
    assert caught.value.code == "phone_invalid"
    assert caught.value.fields == {
        "phone": "Enter a Korean mobile phone number, like 010-1234-5678."
    }


@pytest.mark.parametrize("raw", ["050-1234-5678", "0505-123-4567", "+82 505 123 4567"])
def test_masked_virtual_050_numbers_get_their_own_message(raw):
    with pytest.raises(PhoneInvalid) as caught:
        phone_normalize(raw)
    assert caught.value.code == "phone_invalid"
    message = caught.value.fields["phone"]
    assert "050" in message
    assert "010-1234-5678" in message
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("e164", "shown", "masked"),
    [
        ("+821012345678", "010-1234-5678", "010-****-5678"),
        ("+82111234567", "011-123-4567", "011-***-4567"),
    ],
)
def test_display_and_mask(e164, shown, masked):
    assert phone_display(e164) == shown
    assert phone_mask(e164) == masked
    assert phone_normalize(shown) == e164  # what is shown can be typed back


def test_display_leaves_other_values_alone_and_mask_never_shows_them():
    assert phone_display("") == ""
    assert phone_display("+16502530000") == "+16502530000"
    assert phone_mask("") == ""
    assert phone_mask("+16502530000") == "***00"


def test_template_filters():
    rendered = Template("{% load orders_tags %}{{ p|phone }} {{ p|phone_masked }}").render(
        Context({"p": "+821012345678"})
    )
    assert rendered == "010-1234-5678 010-****-5678"
