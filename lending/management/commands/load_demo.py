# Placeholder until the demo-data work fills it in.
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the demo data."

    def handle(self, *args, **options):
        pass
