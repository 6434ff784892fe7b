import django.core.validators
from django.db import migrations, models


def sales_share_products_spread_their_fee_over_240_days(apps, schema_editor):
    # Existing sales-share advances charged their whole fee however fast they were repaid. From now on the fee
    # accrues by the day on what is outstanding; spread over 240 days, the demo's dearest fee factor (1.15) is
    # 0.0625 % a day, 22.82 % a year at most, within the 24 % ceiling.
    LoanProduct = apps.get_model("lending", "LoanProduct")
    LoanProduct.objects.filter(kind="sales_share_advance").update(sales_share_fee_days=240)


class Migration(migrations.Migration):

    dependencies = [
        ('lending', '0012_checker_concessions_and_write_off_amounts'),
    ]

    operations = [
        migrations.AddField(
            model_name='loanproduct',
            name='sales_share_fee_days',
            field=models.PositiveSmallIntegerField(blank=True, help_text="Sales-share advances only: the fee accrues each day on the advance still outstanding at the fee factor's fee divided by these days (1.08 over 240 days: 0.08 / 240 = 0.0333 % a day), and never comes to more than that fee, so an advance repaid sooner costs less. That daily rate x 365 must stay within the platform's annualised-cost ceiling.", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(548)], verbose_name='fee spread over (days)'),
        ),
        migrations.RunPython(sales_share_products_spread_their_fee_over_240_days, migrations.RunPython.noop),
    ]
