"""Examples for the partner API's docs: offer 77 of application 1042 (50,000.00 yuan over twelve months at grade A,
70 % offered to the bank at 4.5 % a year), the loan it became, and the merchant file behind it."""

from drf_spectacular.utils import OpenApiExample

OFFER = {
    "id": 77,
    "application": 1042,
    "state": "offered",
    "product": "operating-loan",
    "amount": "50000.00",
    "term": 12,
    "repayment_method": "equal_instalment",
    "grade": "A",
    "borrower_rate": "0.080000",
    "apr": "8.30",
    "share": "0.7000",
    "principal": "35000.00",
    "interest_rate": "0.045000",
    "agreement_version": 3,
    "offered_at": "2026-12-03T10:24:56+08:00",
    "answer_by": "2026-12-04T10:24:56+08:00",
    "answered_at": None,
    "reference": "",
    "reason": "",
    "loan": None,
}
ACCEPTED = {**OFFER, "state": "accepted", "answered_at": "2026-12-03T11:02:10+08:00", "reference": "DB-2026-000381"}
DECLINED = {
    **OFFER,
    "state": "declined",
    "answered_at": "2026-12-03T11:02:10+08:00",
    "reference": "DB-2026-000382",
    "reason": "Sector limit for catering reached this quarter.",
}
OFFERS = OpenApiExample("One open offer", value=OFFER, response_only=True)
OFFER_DETAIL = OpenApiExample("An open offer", value=OFFER, response_only=True)
ACCEPT_REQUEST = OpenApiExample("Accept, with your reference", value={"reference": "DB-2026-000381"}, request_only=True)
OFFER_ACCEPTED = OpenApiExample("Accepted", value=ACCEPTED, response_only=True)
DECLINE_REQUEST = OpenApiExample(
    "Decline, saying why",
    value={"reference": "DB-2026-000382", "reason": "Sector limit for catering reached this quarter."},
    request_only=True,
)
OFFER_DECLINED = OpenApiExample("Declined", value=DECLINED, response_only=True)

LOAN = {
    "id": 311,
    "application": 1042,
    "product": "operating-loan",
    "state": "overdue",
    "days_past_due": 6,
    "principal": "50000.00",
    "start_date": "2026-12-03",
    "maturity_date": "2027-12-03",
    "activated_at": "2026-12-03T10:25:03+08:00",
    "share": "0.7000",
    "share_principal": "35000.00",
    "interest_rate": "0.045000",
    "agreement_version": 3,
    "outstanding_principal": "46012.18",
    "outstanding_share_principal": "32208.53",
}
LOANS = OpenApiExample("One co-funded loan, six days overdue", value=LOAN, response_only=True)
LOAN_DETAIL = OpenApiExample("A co-funded loan", value=LOAN, response_only=True)

MERCHANT = {
    "offer": 77,
    "credit_code": "91************001X",
    "legal_rep_id": "110***********002X",
    "industry": "H6210",
    "industry_label": "Restaurants",
    "province": "330000",
    "region": "Zhejiang",
    "city": "杭州",
    "months_active": 26,
    "decision": {
        "outcome": "approve",
        "grade": "A",
        "score": "712.00",
        "probability_of_default": "0.012000",
        "decided_at": "2026-12-03T10:24:50+08:00",
        "features": {"months_active": 26, "avg_monthly_sales": "184220.50", "refund_ratio": "0.0120"},
        "reasons": [
            {
                "code": "refund_ratio",
                "feature": "refund_ratio",
                "message_en": "Refunds are a larger share of sales than for most merchants.",
                "message_zh": "退款占销售额的比例高于多数商户。",
            }
        ],
    },
    "sales": {
        "source": "platform",
        "months": [
            {
                "month": "2026-11-01",
                "gross_sales": "191002.40",
                "refunds": "2210.00",
                "net_sales": "188792.40",
                "transaction_count": 4312,
                "days": 30,
            }
        ],
        "summary": {
            "first_month": "2025-12-01",
            "last_month": "2026-11-01",
            "gross_sales": "2210646.00",
            "refunds": "26528.00",
            "months_with_sales": 12,
            "average_month": "184220.50",
        },
    },
}
MERCHANT_FILE = OpenApiExample("The merchant of offer 77", value=MERCHANT, response_only=True)
