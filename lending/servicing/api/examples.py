"""Examples for the interactive API docs: the loan of application 1042 (50,000.00 yuan on the operating loan over
three months at grade A, 1 % fee deducted), its schedule, a pay-now request, a deferral and the first payment."""

from drf_spectacular.utils import OpenApiExample

_SCHEDULE = [
    {
        "number": 1,
        "due_date": "2027-01-03",
        "principal": "16561.88",
        "interest": "305.75",
        "fee": "0.00",
        "payment": "16867.63",
        "paid": "16867.63",
        "status": "paid",
    },
    {
        "number": 2,
        "due_date": "2027-02-03",
        "principal": "16663.15",
        "interest": "204.48",
        "fee": "0.00",
        "payment": "16867.63",
        "paid": "0.00",
        "status": "due",
    },
    {
        "number": 3,
        "due_date": "2027-03-03",
        "principal": "16774.97",
        "interest": "92.65",
        "fee": "0.00",
        "payment": "16867.62",
        "paid": "0.00",
        "status": "due",
    },
]
LOAN = {
    "id": 311,
    "application": 1042,
    "product": "operating-loan",
    "state": "active",
    "principal": "50000.00",
    "net_disbursement": "49500.00",
    "apr": "13.32",
    "repayment_method": "equal_instalment",
    "term": 3,
    "term_unit": "months",
    "start_date": "2026-12-03",
    "maturity_date": "2027-03-03",
    "first_due_date": "2027-01-03",
    "payout": {
        "status": "succeeded",
        "amount": "49500.00",
        "bank_name": "招商银行深圳分行",
        "account": "**** 0042",
        "completed_at": "2026-12-03T10:25:03+08:00",
    },
    "created_at": "2026-12-03T10:24:56+08:00",
    "activated_at": "2026-12-03T10:25:03+08:00",
}
COLLECTION = {
    "id": 88,
    "purpose": "other",
    "keep": "",
    "amount": "5000.00",
    "reference": "app-pay-20270110-001",
    "status": "requested",
    "failure_reason": "",
    "requested_on": "2027-01-10",
    "created_at": "2027-01-10T09:12:30+08:00",
    "settled_at": None,
    "payment": None,
}
CONFIRMED_COLLECTION = {
    **COLLECTION,
    "id": 87,
    "purpose": "due",
    "amount": "16867.63",
    "reference": "app-pay-20270103-001",
    "status": "confirmed",
    "requested_on": "2027-01-03",
    "created_at": "2027-01-03T08:00:11+08:00",
    "settled_at": "2027-01-03T18:30:02+08:00",
    "payment": 5120,
}
PAYMENT = {
    "id": 5120,
    "amount": "16867.63",
    "received_on": "2027-01-03",
    "source": "collection",
    "kind": "regular",
    "external_reference": "collection-3f1c2d9e-7b1a-4c55-9d0e-1a2b3c4d5e6f",
    "allocations": [
        {"instalment": 1, "component": "interest", "amount": "305.75"},
        {"instalment": 1, "component": "principal", "amount": "16561.88"},
    ],
    "created_at": "2027-01-03T18:30:02+08:00",
}
DEFERRAL = {
    "id": 19,
    "instalment": 2,
    "due_date": "2027-02-03",
    "requested_due_date": "2027-02-17",
    "reason": "Our shop is closed for renovation for two weeks; sales resume after.",
    "status": "pending",
    "requested_at": "2027-01-10T09:30:00+08:00",
    "decided_at": None,
    "decision_note": "",
}


def _page(*items: dict) -> dict:
    return {"next": None, "previous": None, "results": list(items)}


LOAN_LISTED = OpenApiExample("An active loan", value=LOAN, response_only=True)
LOAN_DETAIL = OpenApiExample(
    "An active loan with its schedule, the first instalment paid",
    value={**LOAN, "schedule": _SCHEDULE},
    response_only=True,
)
PAYMENTS = OpenApiExample("The first instalment, collected", value=_page(PAYMENT), response_only=True)
COLLECTIONS = OpenApiExample(
    "One pending, one confirmed with its payment", value=_page(COLLECTION, CONFIRMED_COLLECTION), response_only=True
)
COLLECTION_REQUESTS = [
    OpenApiExample(
        "Another amount",
        value={"purpose": "other", "amount": "5000.00", "reference": "app-pay-20270110-001"},
        request_only=True,
    ),
    OpenApiExample("What is due now", value={"purpose": "due", "reference": "app-pay-20270103-001"}, request_only=True),
    OpenApiExample(
        "Repay part early, keeping the term (a lower instalment)",
        value={"purpose": "prepay", "amount": "10000.00", "keep": "term", "reference": "app-pay-20270115-001"},
        request_only=True,
    ),
]
COLLECTION_ASKED = OpenApiExample(
    "Asked: pending until the rail confirms", value=COLLECTION, response_only=True, status_codes=["202", "200"]
)
COLLECTION_CONFIRMED = OpenApiExample("Confirmed, with its payment", value=CONFIRMED_COLLECTION, response_only=True)
PAYOFF_QUOTE = OpenApiExample(
    "Paying off on 10 January 2027",
    summary="Principal left, interest for the 7 days used, the 1 % early-repayment fee",
    value={
        "loan": 311,
        "valid_on": "2027-01-10",
        "principal": "33438.12",
        "interest": "46.16",
        "fees": "0.00",
        "penalties": "0.00",
        "prepayment_fee": "334.38",
        "credit": "0.00",
        "total": "33818.66",
    },
    response_only=True,
)
DEFERRAL_REQUEST = OpenApiExample(
    "Move instalment 2 two weeks later",
    value={
        "instalment": 2,
        "new_due_date": "2027-02-17",
        "reason": "Our shop is closed for renovation for two weeks; sales resume after.",
    },
    request_only=True,
)
DEFERRAL_ASKED = OpenApiExample("Waiting for an officer", value=DEFERRAL, response_only=True, status_codes=["201"])
DEFERRALS = OpenApiExample("One request waiting", value=_page(DEFERRAL), response_only=True)
CALLBACK_CONFIRMED = OpenApiExample(
    "Money arrived",
    value={
        "idempotency_key": "3f1c2d9e-7b1a-4c55-9d0e-1a2b3c4d5e6f",
        "reference": "PLT-COL-20270103-000917",
        "status": "confirmed",
        "amount": "16867.63",
        "settled_on": "2027-01-03",
    },
    request_only=True,
)
CALLBACK_FAILED = OpenApiExample(
    "Refused by the merchant's bank",
    value={
        "idempotency_key": "3f1c2d9e-7b1a-4c55-9d0e-1a2b3c4d5e6f",
        "reference": "PLT-COL-20270103-000917",
        "status": "failed",
        "error": "The settlement account does not cover the amount.",
    },
    request_only=True,
)
CALLBACK_ANSWER = OpenApiExample("Booked", value={"status": "confirmed"}, response_only=True)

__all__ = [
    "CALLBACK_ANSWER",
    "CALLBACK_CONFIRMED",
    "CALLBACK_FAILED",
    "COLLECTIONS",
    "COLLECTION_ASKED",
    "COLLECTION_CONFIRMED",
    "COLLECTION_REQUESTS",
    "DEFERRALS",
    "DEFERRAL_ASKED",
    "DEFERRAL_REQUEST",
    "LOAN_DETAIL",
    "LOAN_LISTED",
    "PAYMENTS",
    "PAYOFF_QUOTE",
]
