from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_decisions(apps, schema_editor):
    """Loans booked before the field existed take the PD of the decision their application was approved on."""
    Loan = apps.get_model("lending", "Loan")
    LoanApplication = apps.get_model("lending", "LoanApplication")
    approved_on = LoanApplication.objects.filter(pk=OuterRef("application_id")).values(
        "decision__probability_of_default"
    )[:1]
    Loan.objects.filter(probability_of_default__isnull=True).update(probability_of_default=Subquery(approved_on))


class Migration(migrations.Migration):

    dependencies = [
        ('lending', '0018_scale_instalment_status_loan'),
    ]

    operations = [
        migrations.AddField(
            model_name='loan',
            name='probability_of_default',
            field=models.DecimalField(blank=True, decimal_places=6, editable=False, max_digits=7, null=True, verbose_name='probability of default at approval'),
        ),
        migrations.RunPython(copy_from_decisions, migrations.RunPython.noop),
    ]
