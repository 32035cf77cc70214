"""Every existing workspace gets its `general` room (new ones get it in workspace_create)."""

from django.db import migrations


def general_rooms_create(apps, schema_editor):
    Workspace = apps.get_model("collaboration", "Workspace")
    Room = apps.get_model("collaboration", "Room")
    CodeDocument = apps.get_model("collaboration", "CodeDocument")
    for workspace in Workspace.objects.exclude(rooms__name="general").iterator():
        room = Room.objects.create(
            workspace=workspace, name="general", created_by_id=workspace.created_by_id
        )
        CodeDocument.objects.create(room=room)


class Migration(migrations.Migration):
    dependencies = [("collaboration", "0002_rooms_chat_code")]

    operations = [migrations.RunPython(general_rooms_create, migrations.RunPython.noop)]
