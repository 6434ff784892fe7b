"""Sales rows record their source, and corrections become versions.

Which existing rows are the platform's? Until now every path wrote the same kind of row, so provenance is read
from the audit trail, the only record of who imported what:

* a ``sales.import`` audit row with a person as its actor was a merchant's upload (the web form or the API):
  every day in that import's date range becomes **declared**, even if an operator had imported the same day
  before, because the merchant's upload may have replaced the platform's figures and which one survived is
  unknowable;
* everything else becomes **platform**: imports by the system (``import_sales`` run by an operator, the demo
  loader) are audited without an actor, and the demo seeder's bulk loads are not audited at all.

Rows keep their figures and dates; each becomes version 1 of its day.
"""

import datetime

import django.db.models.manager
from django.db import migrations, models

SALES_IMPORT = "sales.import"


def mark_merchant_uploads_declared(apps, schema_editor):
    AuditEvent = apps.get_model("core", "AuditEvent")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SalesDay = apps.get_model("merchants", "SalesDay")
    merchant_type = ContentType.objects.filter(app_label="merchants", model="merchant").first()
    if merchant_type is None:
        return
    uploads = AuditEvent.objects.filter(
        action=SALES_IMPORT, content_type=merchant_type, actor__isnull=False
    ).values_list("object_id", "data")
    for object_id, data in uploads.iterator():
        try:
            first = datetime.date.fromisoformat(data["first_date"])
            last = datetime.date.fromisoformat(data["last_date"])
        except (KeyError, TypeError, ValueError):
            continue
        SalesDay.objects.filter(merchant_id=int(object_id), date__range=(first, last)).update(source="declared")




class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0003_kycdocument_ocr'),
        ('core', '0004_notice_emailed_at'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='salesday',
            options={'base_manager_name': 'all_rows', 'ordering': ['merchant', 'date'], 'verbose_name': 'sales day', 'verbose_name_plural': 'sales days'},
        ),
        migrations.AlterModelManagers(
            name='salesday',
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('all_rows', django.db.models.manager.Manager()),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='salesday',
            name='one_sales_row_per_merchant_day',
        ),
        migrations.AddField(
            model_name='salesday',
            name='batch_id',
            field=models.CharField(blank=True, db_default='', default='', help_text='The feed batch or upload it came in.', max_length=100, verbose_name='batch'),
        ),
        migrations.AddField(
            model_name='salesday',
            name='source',
            field=models.CharField(choices=[('platform', 'Platform settlement feed'), ('declared', 'Declared by the merchant')], db_default='platform', default='platform', max_length=8, verbose_name='source'),
        ),
        migrations.AddField(
            model_name='salesday',
            name='superseded_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='superseded at'),
        ),
        migrations.AddField(
            model_name='salesday',
            name='version',
            field=models.PositiveSmallIntegerField(db_default=1, default=1, verbose_name='version'),
        ),
        migrations.RunPython(mark_merchant_uploads_declared, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='salesday',
            name='imported_at',
            field=models.DateTimeField(auto_now_add=True, verbose_name='imported at'),
        ),
        migrations.AddConstraint(
            model_name='salesday',
            constraint=models.UniqueConstraint(condition=models.Q(('superseded_at__isnull', True)), fields=('merchant', 'date', 'source'), name='one_current_sales_row_per_merchant_day_source'),
        ),
        migrations.AddConstraint(
            model_name='salesday',
            constraint=models.UniqueConstraint(fields=('merchant', 'date', 'source', 'version'), name='one_sales_version_per_merchant_day_source'),
        ),
    ]
