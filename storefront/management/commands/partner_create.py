"""Create a partner (or add a key to an existing one) and print its API key, once.

    python manage.py partner_create --name "Acme Mall" --credit-limit 5000000 \
        --webhook-url https://acme.example/hooks/globalstore
    python manage.py partner_create --name "Acme Mall" --new-key   # another key, same partner

The key and the webhook signing secret are printed here and nowhere else (only the key's
SHA-256 is stored). Staff can do the same in admin → Partners / API keys.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from storefront.errors import ApplicationError
from storefront.models import Partner
from storefront.partners import api_key_create, partner_create


class Command(BaseCommand):
    help = "Create a partner of the partner API and print an API key for it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="the partner's name (unique)")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=Partner.Scope.values,
            help="a scope to grant (repeat); default: all of them",
        )
        parser.add_argument(
            "--credit-limit",
            type=int,
            default=5_000_000,
            help="won the partner's open orders may total (default 5,000,000)",
        )
        parser.add_argument("--webhook-url", default="", help="where order events are POSTed")
        parser.add_argument("--key-name", default="", help="a label for the key")
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="the partner exists already: only make another key for it",
        )

    def handle(self, *args, **options):
        name = options["name"].strip()
        existing = Partner.objects.filter(name=name).first()
        if options["new_key"]:
            if existing is None:
                raise CommandError(f"No partner named {name!r}.")
            partner = existing
        else:
            if existing is not None:
                raise CommandError(
                    f"A partner named {name!r} exists; add --new-key to make another key."
                )
            if options["credit_limit"] < 0:
                raise CommandError("--credit-limit cannot be negative.")
            try:
                partner = partner_create(
                    name=name,
                    scopes=options["scopes"] or Partner.Scope.values,
                    credit_limit_krw=options["credit_limit"],
                    webhook_url=options["webhook_url"],
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        created = api_key_create(partner_id=partner.pk, name=options["key_name"])
        write = self.stdout.write
        write(f"Partner        {partner.name} (id {partner.pk})")
        write(f"Scopes         {', '.join(partner.scopes) or '-'}")
        write(f"Credit limit   ₩{partner.credit_limit_krw:,}")
        if partner.webhook_url:
            write(f"Webhook URL    {partner.webhook_url}")
            write(f"Webhook secret {partner.webhook_secret}")
        write(f"API key        {created.raw_key}")
        write("Keep the key now: it is stored hashed and cannot be shown again.")
        write(
            f"Try it:  curl -H 'Authorization: Api-Key {created.raw_key}' <site>/api/v1/products/"
        )
