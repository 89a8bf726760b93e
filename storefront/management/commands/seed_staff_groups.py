"""`python manage.py seed_staff_groups`: the staff groups with least privilege.

Creates or updates the groups in ``storefront/staff_groups.py`` (customer service,
fulfillment, catalog, finance) to exactly their listed permissions and prints what changed.
Safe to run again: a second run changes nothing. Put a staff user in a group in the admin
(Users → the user → Groups).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from storefront.errors import ApplicationError
from storefront.staff_groups import staff_groups_seed


class Command(BaseCommand):
    help = (
        "Create or update the staff groups (Customer service, Fulfillment, Catalog, Finance) "
        "to exactly the permissions in storefront/staff_groups.py. Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        try:
            changes = staff_groups_seed()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for change in changes:
            if not change.changed:
                self.stdout.write(f"{change.name}: unchanged")
                continue
            verb = "created" if change.created else "updated"
            parts = [f"+{label}" for label in change.added]
            parts += [f"-{label}" for label in change.removed]
            self.stdout.write(
                self.style.SUCCESS(f"{change.name}: {verb}") + f" ({', '.join(parts)})"
            )
