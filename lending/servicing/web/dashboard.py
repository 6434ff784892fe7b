"""The merchant's home page with its borrowing: merchants' dashboard (verification, sales) plus the credit line and
a card for each open loan.

Merchants is a lower layer and knows nothing of loans, so lending extends its view with these facts and
``config/urls.py`` serves this one at the dashboard's address.
"""

from django.utils import timezone

from lending.servicing.selectors.overview import loan_cards, merchant_credit_line
from merchants.choices import KycState
from merchants.web.dashboard import DashboardView


class BorrowingDashboardView(DashboardView):
    template_name = "lending/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        cards = loan_cards(merchant=self.merchant, on=today)
        context.update(
            loan_cards=cards,
            credit_line=merchant_credit_line(merchant=self.merchant, on=today, cards=cards)
            if self.merchant.kyc_state == KycState.VERIFIED
            else None,
        )
        return context
