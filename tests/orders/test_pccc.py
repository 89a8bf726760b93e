"""The PCCC's shape, encryption at rest, mask and log redaction (orders/pccc.py)."""

from __future__ import annotations

import base64
import io
import logging
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import translation

from orders.pccc import (
    PcccInvalid,
    PcccRedactingFilter,
    PcccUndecryptable,
    check_pccc_keys_configured,
    encryption_keys,
    pccc_decrypt,
    pccc_encrypt,
    pccc_last4,
    pccc_mask,
    pccc_normalize,
    pccc_redact,
    pccc_reencrypt,
)

PCCC = "P123456789012"


@pytest.mark.parametrize(
    "raw",
    [
        "P123456789012",
        "p123456789012",
        " P123456789012 ",
        "P 1234 5678 9012",
        "P-1234-5678-9012",
        "p1234-5678 9012",
        "P\t123456789012\n",
    ],
)
def test_normalize_accepts_case_spaces_and_hyphens(raw):
    assert pccc_normalize(raw) == PCCC


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "P12345678901",  # 11 digits
        "P1234567890123",  # 13 digits
        "123456789012",  # no P
        "Q123456789012",
        "PP123456789012",
        "P12345678901O",  # letter O for a zero
        "P１２３４５６７８９０１２",  # full-width digits
        "P123.456.789.012",
    ],
)
def test_normalize_refuses_anything_not_shaped_like_a_pccc(raw):
    with pytest.raises(PcccInvalid) as caught:
        pccc_normalize(raw)

    error = caught.value
    assert error.code == "pccc_invalid"
    assert set(error.fields) == {"pccc"}
    assert "P123456789012" in error.fields["pccc"]  # the example of the right shape
    assert error.message == error.fields["pccc"]


def test_refusal_message_explains_the_shape_in_english():
    with translation.override("en"), pytest.raises(PcccInvalid) as caught:
        pccc_normalize("nope")
    assert caught.value.message == "A PCCC is P followed by 12 digits, like P123456789012."


def test_mask_is_always_13_characters_and_shows_only_the_last_four():
    assert pccc_mask("9012") == "P••••••••9012"
    assert pccc_mask(pccc_last4("p1234-5678-9012")) == "P••••••••9012"
    assert [len(pccc_mask(v)) for v in ("9012", "12", "", "123456789012")] == [13] * 4
    assert pccc_mask("123456789012") == "P••••••••9012"


def test_last4_normalizes_first_and_refuses_a_malformed_value():
    assert pccc_last4(" p1234 5678 9012") == "9012"
    with pytest.raises(PcccInvalid):
        pccc_last4("P12")


def test_encrypt_then_decrypt_gives_the_normalized_pccc_back():
    token = pccc_encrypt("p 1234-5678-9012")

    assert pccc_decrypt(token) == PCCC


def test_ciphertext_does_not_contain_the_pccc_and_differs_each_time():
    first, second = pccc_encrypt(PCCC), pccc_encrypt(PCCC)

    assert first != second  # random IV: tokens cannot be matched against each other
    for token in (first, second):
        assert token.isascii()
        for needle in (PCCC, PCCC[1:], "123456789012", "9012"[::-1] + "P"):
            assert needle not in token
        assert PCCC.encode() not in base64.urlsafe_b64decode(token)


def test_encrypting_a_malformed_pccc_is_refused():
    with pytest.raises(PcccInvalid):
        pccc_encrypt("P1234")


def test_rotation_new_key_encrypts_and_old_key_still_decrypts(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PCCC_ENCRYPTION_KEYS = [old_key]
    old_token = pccc_encrypt(PCCC)

    settings.PCCC_ENCRYPTION_KEYS = [new_key, old_key]
    new_token = pccc_encrypt(PCCC)

    assert pccc_decrypt(old_token) == PCCC
    assert pccc_decrypt(new_token) == PCCC
    # The new token was made with the new key alone: the old key cannot read it.
    assert Fernet(new_key).decrypt(new_token.encode()) == PCCC.encode()
    settings.PCCC_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(PcccUndecryptable):
        pccc_decrypt(new_token)


def test_reencrypt_moves_an_old_token_to_the_new_key(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PCCC_ENCRYPTION_KEYS = [old_key]
    old_token = pccc_encrypt(PCCC)
    settings.PCCC_ENCRYPTION_KEYS = [new_key, old_key]

    rotated = pccc_reencrypt(old_token)

    settings.PCCC_ENCRYPTION_KEYS = [new_key]  # the old key is dropped afterwards
    assert pccc_decrypt(rotated) == PCCC
    with pytest.raises(PcccUndecryptable):
        pccc_decrypt(old_token)


def test_keys_may_come_as_one_comma_separated_string(settings):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PCCC_ENCRYPTION_KEYS = f" {first} , {second} ,"

    assert encryption_keys() == (first, second)
    assert Fernet(first).decrypt(pccc_encrypt(PCCC).encode()) == PCCC.encode()


def test_a_token_from_an_unknown_key_or_garbage_is_undecryptable_without_echoing_it(settings):
    foreign = Fernet(Fernet.generate_key()).encrypt(PCCC.encode()).decode()

    for token in (foreign, "not-a-token", "ünicode"):
        with pytest.raises(PcccUndecryptable) as caught:
            pccc_decrypt(token)
        assert token not in str(caught.value)
        assert PCCC not in str(caught.value)


def test_a_malformed_key_setting_is_reported_without_the_key(settings):
    settings.PCCC_ENCRYPTION_KEYS = ["too-short-secret"]

    with pytest.raises(ValueError, match="not a Fernet key") as caught:
        pccc_encrypt(PCCC)
    assert "too-short-secret" not in str(caught.value)


def test_development_key_is_derived_from_secret_key_and_deterministic(settings):
    settings.PCCC_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "one-secret"
    token = pccc_encrypt(PCCC)
    (dev_key,) = encryption_keys()

    assert dev_key != "one-secret"
    assert Fernet(dev_key).decrypt(token.encode()) == PCCC.encode()
    assert pccc_decrypt(token) == PCCC  # same key again, e.g. after a restart
    assert check_pccc_keys_configured()[0].id == "orders.W001"

    settings.SECRET_KEY = "another-secret"
    with pytest.raises(PcccUndecryptable):
        pccc_decrypt(token)


def test_deploy_check_is_quiet_when_keys_are_set(settings):
    settings.PCCC_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert check_pccc_keys_configured() == []


def test_generate_key_command_prints_a_usable_key(settings):
    out = StringIO()

    call_command("pccc_generate_key", stdout=out)

    key = out.getvalue().strip()
    settings.PCCC_ENCRYPTION_KEYS = [key]
    assert Fernet(key).decrypt(pccc_encrypt(PCCC).encode()) == PCCC.encode()


# --- Logs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pccc P123456789012 refused", "pccc P••••••••9012 refused"),
        ("lower p123456789012.", "lower P••••••••9012."),
        ("typed P-1234-5678-9012!", "typed P••••••••9012!"),
        ("typed p 1234 5678 9012", "typed P••••••••9012"),
        ("two P100000000001,P100000000002", "two P••••••••0001,P••••••••0002"),
        ("{'pccc': 'P123456789012'}", "{'pccc': 'P••••••••9012'}"),
        ("order P12 and 123456789012", "order P12 and 123456789012"),
    ],
)
def test_redact_masks_everything_shaped_like_a_pccc(text, expected):
    assert pccc_redact(text) == expected


def _record(msg, args=(), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("orders", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_filter_masks_message_args_dict_args_and_exception_text():
    formatter = logging.Formatter("%(message)s")
    filtering = PcccRedactingFilter()
    try:
        raise ValueError("bad value P123456789012")
    except ValueError:
        exc_info = sys.exc_info()
    records = [
        _record("checking %s for %s", ("p1234-5678-9012", "홍길동")),
        _record("checking %(pccc)s", ({"pccc": "P123456789012"},)),
        _record("payload %r", ({"pccc": "P123456789012"},)),
        _record("P123456789012 in the message itself"),
        _record("failed", exc_info=exc_info),
    ]

    lines = []
    for record in records:
        assert filtering.filter(record) is True  # never drops a record
        lines.append(formatter.format(record))

    text = "\n".join(lines)
    assert "123456789012" not in text
    assert "5678" not in text
    assert lines[0] == "checking P••••••••9012 for 홍길동"
    assert "ValueError: bad value P••••••••9012" in lines[4]


def test_filter_leaves_a_record_without_a_pccc_untouched():
    record = _record("order %s paid %d won", ("GS-1234", 15000))

    PcccRedactingFilter().filter(record)

    assert (record.msg, record.args) == ("order %s paid %d won", ("GS-1234", 15000))


def test_every_configured_handler_carries_the_filter(settings):
    filter_names = {
        name
        for name, spec in settings.LOGGING["filters"].items()
        if spec.get("()") == "orders.pccc.PcccRedactingFilter"
    }
    assert filter_names
    for name, handler in settings.LOGGING["handlers"].items():
        assert filter_names & set(handler.get("filters", [])), name


def test_the_live_console_handler_writes_the_mask_not_the_pccc():
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, PcccRedactingFilter) for f in handler.filters)
    ]
    assert handlers, "settings.LOGGING's handlers are installed on the root logger"
    handler = handlers[0]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger("orders.checkout").warning("PCCC %s refused", "P123456789012")
    finally:
        handler.setStream(previous)

    assert "P••••••••9012 refused" in stream.getvalue()
    assert "123456789012" not in stream.getvalue()
