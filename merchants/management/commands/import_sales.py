"""Import a merchant's platform sales from a CSV file of the settlement feed, as an operator with shell access.

The rows are written as platform rows, the credit file, like the feed's API; a day already on file with other
figures is corrected as a new version with the old one kept.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from merchants.choices import SalesSource
from merchants.models import Merchant
from merchants.services.sales import sales_import_csv
from merchants.services.sales_csv import SalesDataInvalid
from merchants.validators import normalise_code


class Command(BaseCommand):
    help = "Import the platform's daily sales for one merchant from a CSV file (date,gross_sales,refunds," + (
        "transaction_count,distinct_customers). A file with any bad line is refused whole."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--merchant", required=True, help="The merchant's unified social credit code or its id (a number)."
        )
        parser.add_argument("file", type=Path, help="Path of the CSV file.")
        parser.add_argument("--batch", default="", help="The settlement batch id (default: the file's name).")

    def handle(self, *args, merchant: str, file: Path, batch: str, **options):
        target = self._merchant(merchant)
        try:
            with file.open("rb") as csv_file:
                result = sales_import_csv(
                    merchant=target,
                    csv_file=csv_file,
                    by=None,
                    source=SalesSource.PLATFORM,
                    batch_id=(batch or f"command:{file.name}")[:100],
                )
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {file}") from exc
        except SalesDataInvalid as exc:
            for message in exc.messages():
                self.stderr.write(message)
            raise CommandError(f"{file}: {exc.total} problem(s); nothing was imported.") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{target} ({target.pk}): imported {result.total} days from {result.first_date} to "
                f"{result.last_date} as platform sales: {result.created} new, {result.replaced} corrected "
                f"(old versions kept), {result.unchanged} unchanged."
            )
        )

    @staticmethod
    def _merchant(key: str) -> Merchant:
        code = normalise_code(key)
        query = Merchant.objects.filter(pk=int(code)) if code.isdigit() and len(code) < 18 else None
        if query is None or not query.exists():
            query = Merchant.objects.filter(credit_code=code)
        merchant = query.first()
        if merchant is None:
            raise CommandError(f"No merchant with the credit code or id {key!r}.")
        return merchant
