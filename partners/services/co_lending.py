"""Lending's co-lending hook, answered by this app: partner offers at acceptance, loan shares at booking."""

from __future__ import annotations

from lending.origination.models import LoanApplication
from lending.origination.services.lenders import FundingLeg
from lending.servicing.models import Loan
from partners.services.offers import offers_open
from partners.services.shares import loan_shares_create


class PartnersCoLending:
    """Registered with lending by ``PartnersConfig.ready``."""

    def offer(self, *, application: LoanApplication) -> bool:
        return offers_open(application=application)

    def loan_booked(self, *, loan: Loan, application: LoanApplication) -> list[FundingLeg]:
        return loan_shares_create(loan=loan, application=application)
