"""Load deterministic demo merchants with two years of daily sales (``merchants.services.demo``)."""

import datetime
import time

from django.core.management.base import BaseCommand, CommandError

from merchants.services.demo import DEMO_PASSWORD, demo_email, seed_merchants


class Command(BaseCommand):
    help = (
        "Create N verified demo merchants (shop1@demo.example …) with daily sales. The same seed gives the "
        "same data; running it again creates nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--merchants", type=int, default=20, help="How many merchants (default 20).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--days", type=int, default=730, help="Days of sales per merchant (default 730).")
        parser.add_argument(
            "--end-date",
            type=datetime.date.fromisoformat,
            default=None,
            help="Last day of sales, YYYY-MM-DD (default yesterday).",
        )
        parser.add_argument("--start-index", type=int, default=0, help="First merchant number, from 0 (default 0).")

    def handle(self, *args, merchants: int, seed: int, days: int, end_date, start_index: int, **options):
        if merchants < 1 or days < 1 or start_index < 0:
            raise CommandError("--merchants and --days must be at least 1, and --start-index at least 0.")
        started = time.perf_counter()
        created = seed_merchants(
            count=merchants,
            seed=seed,
            days=days,
            end_date=end_date,
            progress=options["verbosity"] > 0,
            start_index=start_index,
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{created} merchant(s) created, {merchants - created} already there, in {elapsed:.1f} s. "
                f"Sign in as {demo_email(start_index)} … {demo_email(start_index + merchants - 1)} "
                f"with the password {DEMO_PASSWORD!r}."
            )
        )
