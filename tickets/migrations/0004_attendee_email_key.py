"""Attendees are unique per event by the normalised form of their address (``email_key``).

Existing rows get their key; two existing attendees of one event whose addresses turn out to
be one address (``\u017fam@`` and ``sam@``) are both kept — nothing is deleted by a migration — the
later one with a key no address can have (``...#legacy-duplicate-<id>``; a domain holds no
``#``), and they are listed on the console for the organiser to merge. Every write from now on
is held to the normalised uniqueness by the constraint.
"""

from django.db import migrations, models


def fill_email_keys(apps, schema_editor):
    from core.text import TextRefused, email_key

    Attendee = apps.get_model("tickets", "Attendee")
    seen: set[tuple[int, str]] = set()
    duplicates = []
    batch = []
    for attendee in Attendee.objects.order_by("pk").only("pk", "event_id", "email").iterator():
        try:
            key = email_key(attendee.email)
        except TextRefused:
            key = attendee.email
        if (attendee.event_id, key) in seen:
            duplicates.append((attendee.event_id, attendee.pk, attendee.email))
            key = f"{key}#legacy-duplicate-{attendee.pk}"
        seen.add((attendee.event_id, key))
        attendee.email_key = key
        batch.append(attendee)
        if len(batch) >= 1000:
            Attendee.objects.bulk_update(batch, ["email_key"])
            batch = []
    if batch:
        Attendee.objects.bulk_update(batch, ["email_key"])
    for event_id, pk, email in duplicates:
        print(f"\n  event {event_id}: attendee {pk} <{email}> is the same address as an "
              "earlier attendee; both kept, merge them by hand")


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0003_ticket_type_translation_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="attendee",
            name="email_key",
            field=models.CharField(default="", editable=False, max_length=600),
            preserve_default=False,
        ),
        migrations.RunPython(fill_email_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="attendee", name="attendee_unique_email"),
        migrations.AddConstraint(
            model_name="attendee",
            constraint=models.UniqueConstraint(
                fields=("event", "email_key"), name="attendee_unique_email_key"
            ),
        ),
    ]
