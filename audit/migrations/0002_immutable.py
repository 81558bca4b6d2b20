"""On PostgreSQL the audit log refuses UPDATE and DELETE: a record of who did what is only
worth something if nobody — the application included — can rewrite it. (Tests empty tables
with TRUNCATE, which these row triggers do not see. SQLite's flush deletes rows, so there the
rule is the application's: the admin is read-only.)"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION audit_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log entries cannot be changed or deleted';
END $$;
CREATE TRIGGER audit_entry_immutable BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_immutable();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS audit_entry_immutable ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_entry_immutable();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
