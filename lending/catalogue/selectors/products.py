"""Read queries for loan products."""

from django.db.models import QuerySet

from lending.catalogue.models import LoanProduct


def products_active() -> QuerySet[LoanProduct]:
    """The products on offer, in the order they were created (the catalogue's order)."""
    return LoanProduct.objects.filter(is_active=True).order_by("id")


def product_active_get(*, code: str) -> LoanProduct | None:
    return products_active().filter(code=code).first()
