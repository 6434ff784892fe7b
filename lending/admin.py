"""The lending app's back office, for Django's admin: each bounded context registers its own pages.

The officers' queues and pages that are not a model's list are registered here for the admin's index
(``core.admin.pages``), each with the permission its view checks, so an officer sees exactly the ones it may open.
"""

from django.utils.translation import gettext_lazy as _

from core.admin.pages import BackOfficePage, back_office_page_register
from lending.catalogue import admin as catalogue_admin
from lending.origination import admin as origination_admin
from lending.origination.selectors.applications import (
    QUEUE_REFERRED,
    QUEUE_SECOND_APPROVAL,
    QUEUE_TO_FUND,
    applications_in_queue,
)
from lending.servicing import admin as servicing_admin
from lending.servicing.admin.collections import PORTFOLIO_URL, QUEUE_URL
from lending.servicing.admin.collections import VIEW_PERMISSION as COLLECTIONS_PERMISSION
from lending.servicing.models import BankTransfer, DeferralRequest, Loan
from lending.servicing.selectors.daily import IN_ARREARS

__all__ = ["catalogue_admin", "origination_admin", "servicing_admin"]

APPLICATIONS = "admin:lending_loanapplication_changelist"
APPLICATIONS_PERMISSION = "lending.view_loanapplication"


def _queue(queue: str):
    return lambda: applications_in_queue(queue=queue).count()


for page in (
    BackOfficePage(
        key="referred",
        title=_("Referred applications"),
        description=_("The engine referred them to an officer: approve, counter-offer or decline."),
        url_name=APPLICATIONS,
        query=f"queue={QUEUE_REFERRED}",
        permission=APPLICATIONS_PERMISSION,
        waiting=_queue(QUEUE_REFERRED),
        position=10,
    ),
    BackOfficePage(
        key="second-approval",
        title=_("Loans awaiting a second approval"),
        description=_("Signed loans above the four-eyes amount: a second officer approves before the payout."),
        url_name=APPLICATIONS,
        query=f"queue={QUEUE_SECOND_APPROVAL}",
        permission=APPLICATIONS_PERMISSION,
        waiting=_queue(QUEUE_SECOND_APPROVAL),
        position=20,
    ),
    BackOfficePage(
        key="to-fund",
        title=_("Signed, not yet funded"),
        description=_("Signed applications whose loan was not made: each needs a look."),
        url_name=APPLICATIONS,
        query=f"queue={QUEUE_TO_FUND}",
        permission=APPLICATIONS_PERMISSION,
        waiting=_queue(QUEUE_TO_FUND),
        position=30,
    ),
    BackOfficePage(
        key="collections",
        title=_("Collections queue"),
        description=_("Loans in arrears by days past due, with their contact history."),
        url_name=QUEUE_URL,
        permission=COLLECTIONS_PERMISSION,
        waiting=lambda: Loan.objects.filter(state__in=IN_ARREARS, days_past_due__gt=0).count(),
        position=40,
    ),
    BackOfficePage(
        key="deferrals",
        title=_("Deferral requests to decide"),
        description=_("Merchants asking to move an instalment's due date."),
        url_name="admin:lending_deferralrequest_changelist",
        query=f"status__exact={DeferralRequest.Status.PENDING}",
        permission="lending.view_deferralrequest",
        waiting=lambda: DeferralRequest.objects.filter(status=DeferralRequest.Status.PENDING).count(),
        position=50,
    ),
    BackOfficePage(
        key="bank-transfers",
        title=_("Bank transfers to approve"),
        description=_("Transfers above the four-eyes amount that another officer recorded."),
        url_name="admin:lending_banktransfer_changelist",
        query=f"status__exact={BankTransfer.Status.AWAITING_APPROVAL}",
        permission="lending.view_banktransfer",
        waiting=lambda: BankTransfer.objects.filter(status=BankTransfer.Status.AWAITING_APPROVAL).count(),
        position=60,
    ),
    BackOfficePage(
        key="portfolio",
        title=_("Portfolio"),
        description=_("What is outstanding, written off, recovered and lost."),
        url_name=PORTFOLIO_URL,
        permission=COLLECTIONS_PERMISSION,
        position=90,
    ),
):
    back_office_page_register(page)
