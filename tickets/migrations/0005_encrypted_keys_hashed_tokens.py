"""Secrets at rest (issue 10): the events' private keys encrypted with VARCO_ENCRYPTION_KEYS,
and the organisers' API tokens moved from DRF's authtoken table (plaintext) to ApiToken (their
SHA-256 only). Existing tokens keep working; the authtoken table is emptied (the app is no
longer installed). Going back decrypts the keys but cannot restore the tokens' plaintext.
"""

import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core import encryption


def encrypt_private_keys(apps, schema_editor) -> None:
    EventKey = apps.get_model("tickets", "EventKey")
    for key in EventKey.objects.using(schema_editor.connection.alias).only("private_key"):
        if not encryption.is_encrypted(key.private_key):
            key.private_key = encryption.encrypt(key.private_key)
            key.save(update_fields=["private_key"])


def decrypt_private_keys(apps, schema_editor) -> None:
    EventKey = apps.get_model("tickets", "EventKey")
    for key in EventKey.objects.using(schema_editor.connection.alias).only("private_key"):
        if encryption.is_encrypted(key.private_key):
            key.private_key = encryption.decrypt(key.private_key)
            key.save(update_fields=["private_key"])


def hash_authtoken_tokens(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return  # a new installation: DRF's token table never existed
    ApiToken = apps.get_model("tickets", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
        ApiToken.objects.using(connection.alias).bulk_create([
            ApiToken(user_id=user_id, token_hash=hashlib.sha256(key.encode()).hexdigest())
            for key, user_id in rows
        ])
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0004_attendee_email_key'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='eventkey',
            name='private_key',
            field=models.TextField(editable=False),
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='organiser_api_token', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
            },
        ),
        migrations.RunPython(encrypt_private_keys, decrypt_private_keys),
        migrations.RunPython(hash_authtoken_tokens, migrations.RunPython.noop),
    ]
