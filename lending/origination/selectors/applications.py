"""Read queries of the application stage: a merchant's applications, the figures a decision is asked with."""

import datetime
from decimal import Decimal

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.utils import timezone

from core.models import Notice
from core.money import to_fen
from lending.origination.models import OPEN_STATES, ApplicationState, LoanApplication
from lending.servicing.models import Loan, LoanState
from merchants.models import Merchant, SalesDay

# A loan that is in default, or was written off, keeps the merchant from borrowing; a recovered one does not.
DEFAULTED_LOAN_STATES = (LoanState.DEFAULTED, LoanState.WRITTEN_OFF)
# Drafts are not "in progress": nobody has been asked anything yet, and a merchant may leave one lying about.
IN_PROGRESS_STATES = tuple(state for state in OPEN_STATES if state != ApplicationState.DRAFT)
SALES_AVERAGE_DAYS = 365


def applications_for_merchant(*, merchant: Merchant) -> QuerySet[LoanApplication]:
    """The merchant's applications, newest first, with what a list shows."""
    return LoanApplication.objects.filter(merchant=merchant).select_related("product").order_by("-created_at", "-id")


def applications_for_owner(*, user) -> QuerySet[LoanApplication]:
    """The applications of the merchant ``user`` owns; nothing for anyone else (another merchant's is a 404)."""
    if not getattr(user, "is_authenticated", False):
        return LoanApplication.objects.none()
    return LoanApplication.objects.filter(merchant__owner=user).select_related("product", "merchant", "decision")


def application_for_owner(*, user, pk: int) -> LoanApplication | None:
    return applications_for_owner(user=user).filter(pk=pk).first()


def applications_in_progress_count(*, merchant: Merchant, exclude_pk: int | None = None) -> int:
    """Applications submitted and not yet funded, declined, withdrawn or expired (drafts do not count)."""
    queryset = LoanApplication.objects.filter(merchant=merchant, state__in=IN_PROGRESS_STATES)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.count()


def application_in_progress_for_merchant(*, merchant: Merchant) -> LoanApplication | None:
    """The merchant's newest application in progress, to point to when it tries to apply again."""
    return LoanApplication.objects.filter(merchant=merchant, state__in=IN_PROGRESS_STATES).order_by("-id").first()


def applications_in_progress_and_submitted_since(
    *, merchant: Merchant, since: datetime.datetime, exclude_pk: int | None = None
) -> tuple[int, int]:
    """``applications_in_progress_count`` and ``applications_submitted_since`` for the same merchant in one query."""
    queryset = LoanApplication.objects.filter(merchant=merchant)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    counts = queryset.aggregate(
        in_progress=Count("pk", filter=Q(state__in=IN_PROGRESS_STATES)),
        submitted=Count("pk", filter=Q(submitted_at__gte=since)),
    )
    return counts["in_progress"], counts["submitted"]


def applications_submitted_since(*, merchant: Merchant, since: datetime.datetime) -> int:
    return LoanApplication.objects.filter(merchant=merchant, submitted_at__gte=since).count()


def merchant_has_defaulted_loan(*, merchant: Merchant) -> bool:
    return merchant.loans.filter(state__in=DEFAULTED_LOAN_STATES).exists()


def merchant_average_daily_sales(*, merchant: Merchant, as_of: datetime.date | None = None) -> Decimal | None:
    """Net sales (gross less refunds) per calendar day over the last year, up to yesterday; None without sales.

    A merchant trading for less than a year is averaged over the days since its first sale in the window, not
    over 365 days, so a young shop's level is not understated. A sales-share advance is projected from this.
    """
    as_of = as_of or timezone.localdate()
    last_day = as_of - datetime.timedelta(days=1)
    first_day = as_of - datetime.timedelta(days=SALES_AVERAGE_DAYS)
    totals = SalesDay.objects.filter(merchant=merchant, date__range=(first_day, last_day)).aggregate(
        net=Sum(F("gross_sales") - F("refunds")), first_sale=Min("date")
    )
    if totals["first_sale"] is None or not totals["net"] or totals["net"] <= 0:
        return None
    days = (last_day - totals["first_sale"]).days + 1
    return to_fen(totals["net"] / days)


def loan_for_application(*, application: LoanApplication) -> tuple[Loan | None, datetime.date | None]:
    """The loan a funded application became, and its first due date (None while there is no loan or schedule)."""
    loan = Loan.objects.filter(application=application).first()
    if loan is None:
        return None, None
    first = loan.instalments.order_by("number").values_list("due_date", flat=True).first()
    return loan, first


def offers_expired_ids(*, now: datetime.datetime) -> list[int]:
    """Applications whose offer lapsed before ``now`` and was neither signed nor withdrawn: one query."""
    return list(
        LoanApplication.objects.filter(
            state__in=(ApplicationState.APPROVED, ApplicationState.ACCEPTED), offer_expires_at__lt=now
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def notices_for_user(*, user) -> QuerySet[Notice]:
    return Notice.objects.filter(user=user).order_by("-created_at", "-id")


def notices_unread_count(*, user) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


def application_queue_filter(queue: str) -> Q | None:
    """The condition of one officers' queue, or None for an unknown queue name."""
    return {
        QUEUE_REFERRED: Q(state=ApplicationState.REFERRED),
        QUEUE_SECOND_APPROVAL: Q(state=ApplicationState.AWAITING_SECOND_APPROVAL, second_approver__isnull=True),
        # Signed, and no loan yet: normally seconds (the funding task runs on commit); anything here needs a look.
        QUEUE_TO_FUND: Q(state=ApplicationState.SIGNED),
    }.get(queue)


def applications_in_queue(*, queue: str) -> QuerySet[LoanApplication]:
    condition = application_queue_filter(queue)
    if condition is None:
        return LoanApplication.objects.none()
    return LoanApplication.objects.filter(condition)


# The officers' queues: what each one holds, as a filter on applications.
QUEUE_REFERRED = "referred"


QUEUE_SECOND_APPROVAL = "second_approval"


QUEUE_TO_FUND = "to_fund"
