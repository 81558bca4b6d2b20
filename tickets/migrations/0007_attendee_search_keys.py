"""Accent-, case- and script-blind search: the folded columns and their indexes.

Every existing attendee gets its keys (``tickets.models.attendee_search_keys``, the function
``Attendee.save`` uses from now on). On PostgreSQL, pg_trgm (a trusted extension since
PostgreSQL 13: the database's owner may create it) and a GIN trigram index on each column, so
that ``LIKE '%q%'`` is answered from the index instead of reading every attendee per keystroke.
SQLite has no such index: there a search is a plain LIKE over the folded column.

``fastupdate = off``: with GIN's default, new rows wait in a "pending list" that every search
reads linearly until a vacuum merges it; after a bulk import the planner rightly prices that
above reading the table and stops using the index. Attendees are written one at a time, so
the cheaper searches are worth slightly slower inserts.
"""

from django.db import migrations, models

INDEXES = {
    "tickets_attendee_search_name_trgm": "search_name",
    "tickets_attendee_search_email_trgm": "search_email",
}


def fill_search_keys(apps, schema_editor):
    # The current function, not a frozen copy: the keys must be what searches compare now.
    from tickets.models import attendee_search_keys

    Attendee = apps.get_model("tickets", "Attendee")
    batch = []
    rows = Attendee.objects.order_by("pk").only("pk", "name", "organisation", "email")
    for attendee in rows.iterator(chunk_size=2000):
        attendee.search_name, attendee.search_email = attendee_search_keys(
            attendee.name, attendee.organisation, attendee.email
        )
        batch.append(attendee)
        if len(batch) >= 2000:
            Attendee.objects.bulk_update(batch, ["search_name", "search_email"])
            batch = []
    if batch:
        Attendee.objects.bulk_update(batch, ["search_name", "search_email"])


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON tickets_attendee "
            f"USING gin ({column} gin_trgm_ops) WITH (fastupdate = off)"
        )


def drop_trigram_indexes(apps, schema_editor):
    # The extension stays: other objects of the database may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0006_dates_in_range"),
    ]

    operations = [
        migrations.AddField(
            model_name="attendee",
            name="search_name",
            field=models.TextField(default="", editable=False),
        ),
        migrations.AddField(
            model_name="attendee",
            name="search_email",
            field=models.TextField(default="", editable=False),
        ),
        migrations.RunPython(fill_search_keys, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
