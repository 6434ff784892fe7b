# The stress tests' tables (0002) and the fraud watch's (0003) were made side by side; neither needs the other.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0002_stress"),
        ("risk", "0003_watch"),
    ]

    operations = []
