"""The API-key cache (storefront/api/keycache.py): a partner request reads its key and
partner from the cache, yet every change of the key or partner applies to the very next
request, a request that read the row before a revocation cannot put it back, the raw key
and the webhook secret never reach the cache, and last_used_at is still written at most
once a minute. Runs on whatever cache the settings give (local memory, or Redis with
``REDIS_URL``)."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import path, reverse
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from storefront.api import auth, keycache, partner_of
from storefront.models import ApiKey, Partner
from storefront.partners import api_key_create, api_key_revoke, partner_webhook_secret_rotate
from storefront.urls import urlpatterns as site_urlpatterns

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.test_key_cache")]


class Probe(APIView):
    """What a view sees of the partner behind the key."""

    required_scopes = {"GET": "catalog:read"}

    def get(self, request):
        partner = partner_of(request)
        return Response(
            {
                "partner": partner.name,
                "credit_limit_krw": partner.credit_limit_krw,
                "rate_limit_per_minute": partner.rate_limit_per_minute,
            }
        )


urlpatterns = [path("probe/", Probe.as_view()), *site_urlpatterns]

PROBE = "/probe/"


def cached(api_key: ApiKey):
    return cache.get(keycache.CACHE_KEY.format(prefix=api_key.prefix))


@pytest.fixture
def warm(partner, api_client):
    """A client whose key row is in the cache (its first request put it there)."""
    client = api_client(partner)
    assert client.get(PROBE).status_code == 200
    assert isinstance(cached(client.api_key), ApiKey)
    return client


@pytest.fixture
def superuser_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def partner_admin_form(partner: Partner, **changes) -> dict:
    form = {
        "name": partner.name,
        "is_active": "on",
        "scopes": partner.scopes,
        "credit_limit_krw": partner.credit_limit_krw,
        "rate_limit_per_minute": partner.rate_limit_per_minute,
        "webhook_url": partner.webhook_url,
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


# --- Queries -----------------------------------------------------------------------------------


def test_a_request_with_a_cached_key_makes_no_query(warm, django_assert_num_queries):
    # The first request read the key and wrote last_used_at; this one does neither.
    with django_assert_num_queries(0):
        response = warm.get(PROBE)
    assert response.json()["partner"] == "Carrier Shop"


def test_without_the_cache_every_request_reads_the_key(
    partner, api_client, settings, django_assert_num_queries
):
    settings.API_KEY_CACHE_SECONDS = 0
    client = api_client(partner)
    client.get(PROBE)
    with django_assert_num_queries(1):  # the key with its partner
        assert client.get(PROBE).status_code == 200
    assert cached(client.api_key) is None


# --- What is cached ------------------------------------------------------------------------------


def test_the_cache_holds_neither_the_raw_key_nor_the_webhook_secret(warm, partner):
    entry = cached(warm.api_key)
    stored = pickle.dumps(entry)  # what both cache backends store
    secret_part = warm.raw_key.split("_")[2]
    assert warm.raw_key.encode() not in stored
    assert secret_part.encode() not in stored
    assert partner.webhook_secret.encode() not in stored
    assert entry.key_hash == auth.api_key_hash(warm.raw_key)  # the stored row, as in the db


def test_a_wrong_secret_is_refused_against_a_cached_row(warm):
    forged = f"gsk_{warm.api_key.prefix}_" + "x" * 32
    response = APIClient().get(PROBE, HTTP_AUTHORIZATION=f"Api-Key {forged}")
    assert response.status_code == 401
    assert warm.get(PROBE).status_code == 200


def test_an_unknown_prefix_is_refused_and_not_cached(db):
    unknown = "gsk_Zz9Zz9Zz_" + "y" * 32
    assert APIClient().get(PROBE, HTTP_AUTHORIZATION=f"Api-Key {unknown}").status_code == 401
    assert cache.get(keycache.CACHE_KEY.format(prefix="Zz9Zz9Zz")) is None


# --- Changes apply to the very next request --------------------------------------------------


def test_a_revoked_key_is_refused_on_the_next_request_even_when_cached(warm):
    api_key_revoke(api_key_id=warm.api_key.pk)
    response = warm.get(PROBE)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    # The refused request read the database and left the marker alone.
    assert cached(warm.api_key) == keycache.STALE


def test_a_deactivated_partner_is_refused_on_the_next_request(warm, partner):
    partner.is_active = False
    partner.save(update_fields=["is_active"])
    assert warm.get(PROBE).status_code == 401


def test_a_scope_change_applies_to_the_next_request(warm, partner):
    partner.scopes = ["orders:read"]
    partner.save(update_fields=["scopes"])
    response = warm.get(PROBE)
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"


def test_admin_edits_of_the_partner_apply_to_the_next_request(warm, partner, superuser_client):
    change = reverse("admin:storefront_partner_change", args=[partner.pk])
    response = superuser_client.post(
        change, partner_admin_form(partner, credit_limit_krw=1_234, rate_limit_per_minute=999)
    )
    assert response.status_code == 302, response.content
    body = warm.get(PROBE).json()
    assert (body["credit_limit_krw"], body["rate_limit_per_minute"]) == (1_234, 999)

    response = superuser_client.post(change, partner_admin_form(partner, is_active=None))
    assert response.status_code == 302, response.content
    assert warm.get(PROBE).status_code == 401


def test_the_admin_revoke_action_applies_to_the_next_request(warm, superuser_client):
    superuser_client.post(
        reverse("admin:storefront_apikey_changelist"),
        {"action": "revoke", "_selected_action": [warm.api_key.pk]},
    )
    assert warm.get(PROBE).status_code == 401


def test_rotating_the_webhook_secret_drops_the_cached_rows(warm, partner):
    second = api_key_create(partner_id=partner.pk).api_key
    partner_webhook_secret_rotate(partner_id=partner.pk)  # an update(): no post_save
    assert cached(warm.api_key) == keycache.STALE
    assert cached(second) == keycache.STALE
    assert warm.get(PROBE).status_code == 200


def test_a_deleted_partners_key_is_refused(warm, partner):
    partner.delete()
    assert warm.get(PROBE).status_code == 401


def test_a_rolled_back_change_leaves_the_key_working(warm):
    def revoke_then_fail() -> None:
        with transaction.atomic():
            api_key_revoke(api_key_id=warm.api_key.pk)
            raise RuntimeError("staff cancelled")

    with pytest.raises(RuntimeError):
        revoke_then_fail()
    assert warm.get(PROBE).status_code == 200


# --- The stale-fill race ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_row_read_before_the_revocation_cannot_be_cached_after_it(partner, api_client):
    """A request reads the key's row, the revocation commits, then that request tries to
    cache what it read: the stale marker wins and the next request is refused."""
    client = api_client(partner)
    old = keycache.api_key_read(prefix=client.api_key.prefix)  # the request's read
    assert old.revoked_at is None

    api_key_revoke(api_key_id=client.api_key.pk)  # commits (autocommit): marker set

    assert keycache.api_key_cache_fill(old) is False  # the request's late fill loses
    assert cached(client.api_key) == keycache.STALE
    assert client.get(PROBE).status_code == 401
    assert client.get(PROBE).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_fill_during_the_revoking_transaction_is_refused_and_the_commit_marks_again(
    partner, api_client
):
    client = api_client(partner)
    assert client.get(PROBE).status_code == 200  # cached
    old = keycache.api_key_read(prefix=client.api_key.prefix)
    with transaction.atomic():
        api_key_revoke(api_key_id=client.api_key.pk)
        assert cached(client.api_key) == keycache.STALE  # the cached row is gone already
        assert keycache.api_key_cache_fill(old) is False
        cache.delete(keycache.CACHE_KEY.format(prefix=client.api_key.prefix))
        # A fill that slipped in before the commit (here: after the entry went away) ...
        assert keycache.api_key_cache_fill(old) is True
    # ... is overwritten by the marker set on commit.
    assert cached(client.api_key) == keycache.STALE
    assert client.get(PROBE).status_code == 401


# --- last_used_at ---------------------------------------------------------------------------------


def test_last_used_is_written_once_a_minute_without_a_query_in_between(
    partner, api_client, monkeypatch, django_assert_num_queries
):
    client = api_client(partner)
    client.get(PROBE)
    first = ApiKey.objects.get(pk=client.api_key.pk).last_used_at
    assert first is not None

    start = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=50))
    with django_assert_num_queries(0):
        client.get(PROBE)
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at == first

    later = start + timedelta(seconds=70)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with django_assert_num_queries(1):  # the guarded UPDATE
        client.get(PROBE)
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at == later


def test_last_used_written_by_another_process_is_not_written_again(partner, api_client):
    client = api_client(partner)
    recent = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.filter(pk=client.api_key.pk).update(last_used_at=recent)
    auth._last_used_written.clear()  # this process has not written it (as a fresh worker)
    client.get(PROBE)
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at == recent
