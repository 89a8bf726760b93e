"""The points ledger is append-only in the database itself: a trigger refuses to change a
``PointEntry`` row (PostgreSQL and SQLite) or delete one (PostgreSQL; SQLite's flush in tests
deletes rows, and production runs PostgreSQL). ``TRUNCATE`` (test database flushes) is not
affected."""

from django.db import migrations

PG_CREATE = """
CREATE OR REPLACE FUNCTION membership_point_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'membership_pointentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER point_entry_append_only
    BEFORE UPDATE OR DELETE ON membership_pointentry
    FOR EACH ROW EXECUTE FUNCTION membership_point_entry_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS point_entry_append_only ON membership_pointentry;
DROP FUNCTION IF EXISTS membership_point_entry_append_only();
"""
SQLITE_CREATE = """
CREATE TRIGGER point_entry_append_only BEFORE UPDATE ON membership_pointentry
BEGIN SELECT RAISE(ABORT, 'membership_pointentry is append-only (UPDATE refused)'); END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS point_entry_append_only;"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("membership", "0002_seed_tier_rules")]

    operations = [migrations.RunPython(create, drop)]
