"""The partner API's plumbing on small views of this module (its own URLconf): API-key
authentication, scopes, the per-partner rate limit, the error format and page sizes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from storefront.api import partner_of
from storefront.api.auth import ApiKeyAuthentication
from storefront.api.idempotency import IdempotentPostMixin
from storefront.errors import ApplicationError
from storefront.models import ApiIdempotencyKey, ApiKey, Partner
from storefront.partners import api_key_create, api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.test_auth")]


# --- A few views on the plumbing -------------------------------------------------------


class WhoAmI(APIView):
    required_scopes = {"GET": "catalog:read", "POST": "orders:write"}

    def get(self, request):
        return Response({"partner": partner_of(request).name})

    def post(self, request):
        return Response({"ok": True})


class Undeclared(APIView):
    def get(self, request):  # no required_scopes: must be refused
        return Response({"leaked": True})


class EchoSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1)
    email = serializers.EmailField()
    lines = serializers.ListField(child=serializers.DictField(), min_length=1)


class Validate(APIView):
    required_scopes = {"POST": "orders:write"}

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class Conflict(ApplicationError):
    http_status = 409


class Refuse(APIView):
    required_scopes = {"POST": "orders:write"}

    def get(self, request):  # implemented but no scope declared for GET: refused
        return Response({"leaked": True})

    def post(self, request):
        if request.data.get("conflict"):
            raise Conflict("Already done.", code="already_done")
        raise ApplicationError("Nope.", code="nope", fields={"asin": "Unknown."})


class KeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "prefix"]


class KeyList(ListAPIView):
    """Paginated by the default CursorPagination."""

    required_scopes = {"GET": "catalog:read"}
    serializer_class = KeySerializer
    ordering = ("id",)

    def get_queryset(self):
        return ApiKey.objects.filter(partner=partner_of(self.request))


class MakeKey(IdempotentPostMixin, APIView):
    """Each run makes a new API key (a visible side effect); ``boom`` fails with a 500."""

    required_scopes = {"POST": "orders:write"}

    def post(self, request):
        if request.data.get("boom"):
            raise RuntimeError("unexpected")
        if request.data.get("refuse"):
            raise ApplicationError("Refused.", code="refused")
        created = api_key_create(partner_id=partner_of(request).pk, name="idem")
        return Response({"prefix": created.api_key.prefix, "n": request.data.get("n")}, 201)


from django.urls import path  # noqa: E402 (the URLconf of this module, for pytest.mark.urls)

urlpatterns = [
    path("whoami/", WhoAmI.as_view()),
    path("undeclared/", Undeclared.as_view()),
    path("validate/", Validate.as_view()),
    path("refuse/", Refuse.as_view()),
    path("keys/", KeyList.as_view()),
    path("make-key/", MakeKey.as_view()),
]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    return body


# --- Authentication ------------------------------------------------------------------------


def test_a_valid_key_authenticates_as_its_partner(partner, api_client):
    client = api_client(partner)
    response = client.get("/whoami/")
    assert response.status_code == 200
    assert response.json() == {"partner": partner.name}


def test_no_key_is_401_with_www_authenticate():
    response = APIClient().get("/whoami/")
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key gsk_AAAAAAAA_" + "B" * 32,  # well-formed, unknown
        "Api-Key not-a-key",
        "Api-Key",
        "Bearer something",  # another scheme: treated as no key
    ],
)
def test_a_bad_key_is_401(partner, api_client, header):
    api_client(partner)  # a real key exists; the bad ones must not match it
    response = APIClient().get("/whoami/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_real_prefix_with_a_wrong_secret_is_401(partner, api_client):
    client = api_client(partner)
    prefix = client.api_key.prefix
    forged = f"gsk_{prefix}_" + "x" * 32
    response = APIClient().get("/whoami/", HTTP_AUTHORIZATION=f"Api-Key {forged}")
    assert_error(response, 401, "unauthenticated")


def test_a_revoked_key_is_401_at_once(partner, api_client):
    client = api_client(partner)
    assert client.get("/whoami/").status_code == 200
    api_key_revoke(api_key_id=client.api_key.pk)
    assert_error(client.get("/whoami/"), 401, "unauthenticated")
    assert ApiKey.objects.filter(pk=client.api_key.pk, revoked_at__isnull=False).exists()


def test_an_inactive_partners_key_is_401(partner, api_client):
    client = api_client(partner)
    Partner.objects.filter(pk=partner.pk).update(is_active=False)
    assert_error(client.get("/whoami/"), 401, "unauthenticated")


def test_only_the_hash_and_prefix_are_stored(partner):
    created = api_key_create(partner_id=partner.pk)
    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert created.raw_key.startswith(f"gsk_{row.prefix}_")
    assert len(created.raw_key) == 4 + 8 + 1 + 32
    assert created.raw_key not in row.key_hash
    assert created.raw_key.split("_")[2] not in row.key_hash


def test_last_used_is_written_at_most_once_a_minute(partner, api_client, monkeypatch):
    client = api_client(partner)
    client.get("/whoami/")
    first = ApiKey.objects.get(pk=client.api_key.pk).last_used_at
    assert first is not None
    client.get("/whoami/")
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at == first
    later = timezone.now() + timedelta(minutes=2)  # two minutes on (the clock, not the row)
    monkeypatch.setattr(timezone, "now", lambda: later)
    client.get("/whoami/")
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at == later


# --- Scopes ----------------------------------------------------------------------------------


def test_missing_scope_is_403_scope_missing(partner, api_client):
    client = api_client(partner, scopes=["orders:read"])
    body = assert_error(client.get("/whoami/"), 403, "scope_missing")
    assert "catalog:read" in body["message"]
    assert body["fields"] == {}


def test_scope_is_per_method(partner, api_client):
    client = api_client(partner, scopes=["catalog:read"])
    assert client.get("/whoami/").status_code == 200
    assert_error(client.post("/whoami/", {}, format="json"), 403, "scope_missing")


def test_a_view_without_required_scopes_fails_closed(partner, api_client):
    response = api_client(partner).get("/undeclared/")
    assert_error(response, 403, "forbidden")
    assert b"leaked" not in response.content


def test_a_method_without_a_declared_scope_is_refused(partner, api_client):
    response = api_client(partner).get("/refuse/")
    assert_error(response, 403, "forbidden")
    assert b"leaked" not in response.content


# --- Rate limit --------------------------------------------------------------------------------


def test_rate_limit_is_per_partner_with_retry_after(partner, other_partner, api_client):
    Partner.objects.filter(pk=partner.pk).update(rate_limit_per_minute=3)
    client = api_client(partner)
    other = api_client(other_partner)
    assert [client.get("/whoami/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/whoami/")
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another partner's budget is its own.
    assert other.get("/whoami/").status_code == 200


# --- Error format ------------------------------------------------------------------------------


def test_validation_errors_name_every_bad_field(partner, api_client):
    response = api_client(partner).post(
        "/validate/", {"quantity": 0, "email": "nope", "lines": [1]}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"quantity", "email", "lines[0]"}
    assert all(isinstance(message, str) and message for message in body["fields"].values())


def test_malformed_json_is_400(partner, api_client):
    response = api_client(partner).post(
        "/validate/", data=b"{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_json")


def test_application_error_keeps_its_code_fields_and_status(partner, api_client):
    client = api_client(partner)
    body = assert_error(client.post("/refuse/", {}, format="json"), 400, "nope")
    assert body["fields"] == {"asin": "Unknown."}
    assert_error(client.post("/refuse/", {"conflict": 1}, format="json"), 409, "already_done")


def test_method_not_allowed_is_405(partner, api_client):
    assert_error(api_client(partner).delete("/whoami/"), 405, "method_not_allowed")


# --- Pagination ----------------------------------------------------------------------------


@override_settings(API_PAGE_SIZE=2, API_PAGE_SIZE_MAX=3)
def test_page_size_defaults_and_is_bounded(partner, other_partner, api_client):
    client = api_client(partner)
    for _ in range(4):
        api_key_create(partner_id=partner.pk)
    api_key_create(partner_id=other_partner.pk)
    own = set(ApiKey.objects.filter(partner=partner).values_list("id", flat=True))

    first = client.get("/keys/").json()
    assert set(first) == {"next", "previous", "results"}
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert len(client.get("/keys/?limit=1000").json()["results"]) == 3
    assert len(client.get("/keys/?limit=0").json()["results"]) == 1

    # Following "next" walks every row exactly once, in a stable order.
    seen, url = [], "/keys/?limit=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(own)


def test_an_invalid_cursor_is_a_400_naming_it(partner, api_client):
    response = api_client(partner).get("/keys/?cursor=garbage")
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"cursor"}


def test_revocation_time_is_kept_when_revoked_twice(partner):
    created = api_key_create(partner_id=partner.pk)
    first = api_key_revoke(api_key_id=created.api_key.pk).revoked_at
    assert api_key_revoke(api_key_id=created.api_key.pk).revoked_at == first
    assert first <= timezone.now()


# --- Idempotency ------------------------------------------------------------------------------


def made_keys() -> int:
    return ApiKey.objects.filter(name="idem").count()


def test_post_without_idempotency_key_is_400_and_does_nothing(partner, api_client):
    response = api_client(partner).post("/make-key/", {"n": 1}, format="json")
    assert_error(response, 400, "idempotency_key_required")
    assert made_keys() == 0


def test_same_key_same_body_replays_the_first_answer(partner, api_client):
    client = api_client(partner)
    first = client.post("/make-key/", {"n": 1, "m": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # The same JSON with its keys in another order is the same request.
    again = client.post(
        "/make-key/",
        data=b'{"m": 2,  "n": 1}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert made_keys() == 1


def test_same_key_other_body_is_409_and_does_nothing(partner, other_partner, api_client):
    client = api_client(partner)
    client.post("/make-key/", {"n": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = client.post("/make-key/", {"n": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 409, "idempotency_key_reused")
    assert made_keys() == 1
    # Keys are per partner: another partner may use the same key.
    other = api_client(other_partner).post(
        "/make-key/", {"n": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other.status_code == 201
    assert made_keys() == 2


def test_a_refusal_is_replayed_but_a_500_can_be_retried(partner, api_client, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True  # the crash reaches the test, no 500 page
    client = api_client(partner)
    refused = client.post("/make-key/", {"refuse": 1}, format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert_error(refused, 400, "refused")
    replay = client.post("/make-key/", {"refuse": 1}, format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == refused.json()

    # An unexpected error (a 500) forgets the key, so a retry runs the view again.
    for _ in range(2):
        with pytest.raises(RuntimeError):
            client.post("/make-key/", {"boom": 1}, format="json", HTTP_IDEMPOTENCY_KEY="b")
        assert not ApiIdempotencyKey.objects.filter(key="b").exists()


def test_an_in_flight_duplicate_gives_up_with_409(partner, api_client, monkeypatch):
    from storefront.api import idempotency

    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0)
    client = api_client(partner)
    ApiIdempotencyKey.objects.create(
        partner=partner,
        key="busy",
        method="POST",
        path="/make-key/",
        request_hash=idempotency.hashlib.sha256(b'POST\n/make-key/\n{"n":1}').hexdigest(),
    )
    response = client.post("/make-key/", {"n": 1}, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert_error(response, 409, "idempotency_in_progress")
    assert made_keys() == 0


# --- Admin: keys shown once, revoked with an action; partners with masked secrets ------------


@pytest.fixture
def superuser_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


@pytest.mark.urls("storefront.urls")
def test_admin_shows_a_new_key_exactly_once_and_it_works(partner, superuser_client):
    response = superuser_client.post(
        reverse("admin:storefront_apikey_add"), {"partner": partner.pk, "name": "prod"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    api_key = ApiKey.objects.get(partner=partner, name="prod")
    raw_key = re.search(rb'id="raw-api-key"[^>]*>(gsk_[A-Za-z0-9_]+)<', response.content)[1]
    assert raw_key.decode().startswith(f"gsk_{api_key.prefix}_")
    user, authenticated_key = ApiKeyAuthentication().authenticate_key(raw_key.decode())
    assert (user.partner, authenticated_key) == (partner, api_key)

    # Never again: not on the list, not on the key's page, never the hash.
    for url in (
        reverse("admin:storefront_apikey_changelist"),
        reverse("admin:storefront_apikey_change", args=[api_key.pk]),
    ):
        page = superuser_client.get(url)
        assert page.status_code == 200
        assert api_key.prefix.encode() in page.content
        assert raw_key not in page.content
        assert api_key.key_hash.encode() not in page.content


@pytest.mark.urls("storefront.urls")
def test_admin_revoke_action(partner, api_client, superuser_client):
    client = api_client(partner)
    superuser_client.post(
        reverse("admin:storefront_apikey_changelist"),
        {"action": "revoke", "_selected_action": [client.api_key.pk]},
    )
    assert ApiKey.objects.get(pk=client.api_key.pk).revoked_at is not None
    with pytest.raises(AuthenticationFailed):
        ApiKeyAuthentication().authenticate_key(client.raw_key)


@pytest.mark.urls("storefront.urls")
def test_admin_partner_scopes_as_checkboxes_and_a_masked_rotatable_secret(superuser_client):
    response = superuser_client.post(
        reverse("admin:storefront_partner_add"),
        {
            "name": "New Partner",
            "is_active": "on",
            "scopes": ["catalog:read", "orders:read"],
            "credit_limit_krw": 1000000,
            "rate_limit_per_minute": 600,
            "webhook_url": "https://partner.example/hooks",
        },
    )
    assert response.status_code == 302, response.content
    partner = Partner.objects.get(name="New Partner")
    assert partner.scopes == ["catalog:read", "orders:read"]
    assert partner.webhook_secret.startswith("whsec_")

    page = superuser_client.get(reverse("admin:storefront_partner_change", args=[partner.pk]))
    assert b'type="checkbox" name="scopes" value="quotes:write"' in page.content
    assert partner.webhook_secret.encode() not in page.content
    assert f"whsec_…{partner.webhook_secret[-4:]}".encode() in page.content

    old = partner.webhook_secret
    superuser_client.post(
        reverse("admin:storefront_partner_changelist"),
        {"action": "rotate_webhook_secret", "_selected_action": [partner.pk]},
    )
    partner.refresh_from_db()
    assert partner.webhook_secret != old
    assert partner.webhook_secret.startswith("whsec_")


@pytest.mark.urls("storefront.urls")
def test_staff_groups_cannot_make_keys(django_user_model, client):
    from django.contrib.auth.models import Group

    from storefront.staff_groups import CUSTOMER_SERVICE, FINANCE, staff_groups_seed

    staff_groups_seed()
    for name in (CUSTOMER_SERVICE, FINANCE):
        user = django_user_model.objects.create_user(f"u-{name}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=name))
        client.force_login(user)
        assert client.get(reverse("admin:storefront_apikey_add")).status_code == 403
        assert (
            client.get(reverse("admin:storefront_partnerwebhookdelivery_changelist")).status_code
            == 200
        )
