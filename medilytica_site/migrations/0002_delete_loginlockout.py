# The hand-written lockout (per username only) gave way to django-axes (per username and address).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('medilytica_site', '0001_initial'),
    ]

    operations = [
        migrations.DeleteModel(
            name='LoginLockout',
        ),
    ]
