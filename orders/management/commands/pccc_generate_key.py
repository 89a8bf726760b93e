"""``manage.py pccc_generate_key``: print a new Fernet key for ``PCCC_ENCRYPTION_KEYS``."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from orders.pccc import pccc_generate_key


class Command(BaseCommand):
    help = (
        "Print a new random key for PCCC_ENCRYPTION_KEYS. To rotate, put it first in the "
        "setting and keep the old keys after it until every stored PCCC is re-encrypted."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(pccc_generate_key())
