"""A short-lived cache of API-key rows by key prefix, so that a partner request does not
query the database for its key (``API_KEY_CACHE_SECONDS``, default 30; 0 turns it off).

What is cached is the stored ``ApiKey`` row with its partner, in the default cache (Redis
in production): never the raw key, which is stored nowhere, and not the partner's webhook
signing secret either (deferred, so it stays out of the cache; nothing on an API request
reads it). ``auth.ApiKeyAuthentication`` compares the key's hash and checks revocation and
the partner's ``is_active`` on every request, against a cached row exactly as against a
fresh one. Unknown prefixes are not cached: they go to the database every time.

Invalidation. Any save or delete of an ``ApiKey`` or a ``Partner`` (``api_key_revoke``,
admin edits of ``is_active``, scopes, rate or credit limit, anything else) replaces the
entries of the keys concerned with a *stale marker*: at once, and again when the
transaction commits. The receivers below do only that (they drop cache entries; no domain
logic), and they catch every save path, admin's ``ModelAdmin.save_model`` included, where
explicit calls in each service and admin action could be forgotten by the next one.
``QuerySet.update()`` sends no signal: code that changes partners or keys that way calls
``api_key_cache_invalidate_partner`` itself (``partner_webhook_secret_rotate`` does).

The stale-fill race. A request that read a row just before a revocation committed must not
put that row back into the cache afterwards. So the marker is *set* (it overwrites a
cached row), fills use ``cache.add`` (only when nothing is there, so they lose to the
marker), and a reader that finds the marker reads the database and does not fill. The
marker lives ``STALE_SECONDS``, far longer than the gap between a request's database read
and its fill (the next line of code); meanwhile that partner's requests read the
database. The marker set before the commit covers the transaction itself (and test cases,
whose transaction never commits); the one on commit is what closes the race.

The cache must be shared by every process that serves the API or changes partners (Redis,
as production runs): with the local-memory cache of development, a change made in another
process (a management command, say) reaches a web process only when its entry expires.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from storefront.models import ApiKey, Partner

CACHE_KEY = "api-key:v1:{prefix}"
STALE = "stale"  # the marker: "read the database, do not fill"
STALE_SECONDS = 60


def _cache_key(prefix: str) -> str:
    return CACHE_KEY.format(prefix=prefix)


def api_key_read(*, prefix: str) -> ApiKey | None:
    """The key with this prefix and its partner, from the database (``None`` if unknown)."""
    return (
        ApiKey.objects.select_related("partner")
        .defer("partner__webhook_secret")
        .filter(prefix=prefix)
        .first()
    )


def api_key_get(*, prefix: str) -> ApiKey | None:
    """The key with this prefix and its partner: from the cache when it holds the row,
    otherwise from the database (then cached for ``API_KEY_CACHE_SECONDS`` unless a stale
    marker is there). The caller still checks the hash, revocation and the partner."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return api_key_read(prefix=prefix)
    entry = cache.get(_cache_key(prefix))
    if isinstance(entry, ApiKey):
        return entry
    api_key = api_key_read(prefix=prefix)
    if entry is None and api_key is not None:
        api_key_cache_fill(api_key)
    return api_key


def api_key_cache_fill(api_key: ApiKey) -> bool:
    """Cache a row just read from the database, only if nothing is cached under its prefix
    (``cache.add``): a stale marker set since the read wins. True when it was cached."""
    return cache.add(_cache_key(api_key.prefix), api_key, timeout=settings.API_KEY_CACHE_SECONDS)


def api_key_cache_invalidate(*, prefixes: Iterable[str]) -> None:
    """Mark the keys' entries stale now and again once the current transaction commits
    (right away outside one), so that the next request reads the database."""
    keys = [_cache_key(prefix) for prefix in prefixes]
    if not keys:
        return

    def mark() -> None:
        cache.set_many(dict.fromkeys(keys, STALE), timeout=STALE_SECONDS)

    mark()
    transaction.on_commit(mark)


def api_key_cache_invalidate_partner(*, partner_id: int) -> None:
    """Mark the entries of all the partner's keys stale (see ``api_key_cache_invalidate``)."""
    prefixes = list(ApiKey.objects.filter(partner_id=partner_id).values_list("prefix", flat=True))
    api_key_cache_invalidate(prefixes=prefixes)


# --- Receivers: they drop cache entries and do nothing else ----------------------------------


def _api_key_changed(sender, instance: ApiKey, created: bool = False, **kwargs) -> None:
    if not created:  # a new key was never cached
        api_key_cache_invalidate(prefixes=[instance.prefix])


def _partner_changed(sender, instance: Partner, created: bool = False, **kwargs) -> None:
    if not created:  # a new partner has no keys yet
        api_key_cache_invalidate_partner(partner_id=instance.pk)


def receivers_connect() -> None:
    """Connect the invalidation receivers (``StorefrontConfig.ready``)."""
    post_save.connect(_api_key_changed, sender=ApiKey, dispatch_uid="api-key-cache:key-save")
    post_delete.connect(_api_key_changed, sender=ApiKey, dispatch_uid="api-key-cache:key-delete")
    post_save.connect(_partner_changed, sender=Partner, dispatch_uid="api-key-cache:partner-save")
    post_delete.connect(
        _partner_changed, sender=Partner, dispatch_uid="api-key-cache:partner-delete"
    )
