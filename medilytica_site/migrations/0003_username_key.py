# Usernames unique as people read them: a key per user, filled for the users there are.

import hashlib
import unicodedata

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _key(username):
    # services.username_key as of this migration, frozen here as migrations must be.
    canonical = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    return hashlib.sha256(canonical.encode()).hexdigest()


def fill_keys(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    UsernameKey = apps.get_model("medilytica_site", "UsernameKey")
    owners = {}
    for username in User.objects.values_list("username", flat=True).iterator():
        owners.setdefault(_key(username), []).append(username)
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        raise RuntimeError(
            "These usernames look alike and must be renamed before this migration: "
            + "; ".join(", ".join(repr(n) for n in names) for names in clashes)
        )
    UsernameKey.objects.bulk_create(
        UsernameKey(user_id=pk, key=_key(username))
        for pk, username in User.objects.values_list("pk", "username").iterator()
    )


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('medilytica_site', '0002_delete_loginlockout'),
    ]

    operations = [
        migrations.CreateModel(
            name='UsernameKey',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='username_key', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('key', models.CharField(max_length=64, unique=True)),
            ],
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
    ]
