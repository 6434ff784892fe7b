"""Examples for the interactive API docs: a real product and amount, the decision with its offer, each step after.

One application follows the journey: 50,000.00 yuan on the operating loan over three months, approved at grade A
(APR 13.32 %), accepted, signed. The figures are the money engine's for those terms.
"""

from drf_spectacular.utils import OpenApiExample

_SCHEDULE = [
    {
        "number": 1,
        "due_date": "2027-01-03",
        "principal": "16561.88",
        "interest": "305.75",
        "fee": "0.00",
        "payment": "16867.63",
        "balance": "33438.12",
    },
    {
        "number": 2,
        "due_date": "2027-02-03",
        "principal": "16663.15",
        "interest": "204.48",
        "fee": "0.00",
        "payment": "16867.63",
        "balance": "16774.97",
    },
    {
        "number": 3,
        "due_date": "2027-03-03",
        "principal": "16774.97",
        "interest": "92.65",
        "fee": "0.00",
        "payment": "16867.62",
        "balance": "0.00",
    },
]
_REASON = {
    "code": "score.monthly_sales_avg",
    "kind": "score",
    "message": "Average monthly sales of ¥100,000 to ¥300,000; above ¥300,000 scores highest.",
    "message_en": "Average monthly sales of ¥100,000 to ¥300,000; above ¥300,000 scores highest.",
    "message_zh": "月均销售额为 10 万至 30 万元，超过 30 万元得分最高。",
}
APPROVED = {
    "id": 1042,
    "state": "approved",
    "state_label": "Approved",
    "product": "operating-loan",
    "amount": "50000.00",
    "term": 3,
    "term_unit": "months",
    "repayment_method": "equal_instalment",
    "average_daily_sales": None,
    "offer": {
        "amount": "50000.00",
        "term": 3,
        "repayment_method": "equal_instalment",
        "grade": "A",
        "price": "0.072000",
        "apr": "13.32",
        "net_disbursement": "49500.00",
        "insurance_premium": "0.00",
        "total_interest": "602.88",
        "total_fees": "500.00",
        "total_cost_of_credit": "1102.88",
        "total_repayable": "50602.88",
        "expires_at": "2026-12-10T10:15:02+08:00",
        "is_counter_offer": False,
        "schedule": _SCHEDULE,
    },
    "decision": {
        "outcome": "approve",
        "grade": "A",
        "apr": "13.32",
        "credit_line": "439200.00",
        "reasons": [_REASON],
        "decided_at": "2026-12-03T10:15:02+08:00",
    },
    "decline_reasons": [],
    "documents_requested": "",
    "created_at": "2026-12-03T10:15:01+08:00",
    "submitted_at": "2026-12-03T10:15:01+08:00",
    "decided_at": "2026-12-03T10:15:02+08:00",
    "accepted_at": None,
    "lenders": [],
    "closed_at": None,
}
DRAFT = {
    **APPROVED,
    "id": 1043,
    "state": "draft",
    "state_label": "Draft",
    "amount": "30000.00",
    "term": 6,
    "offer": None,
    "decision": None,
    "submitted_at": None,
    "decided_at": None,
}
REFERRED = {
    **APPROVED,
    "id": 1044,
    "state": "referred",
    "state_label": "Referred to an officer",
    "amount": "480000.00",
    "term": 12,
    "offer": None,
    "decision": {
        "outcome": "refer",
        "grade": "A",
        "apr": None,
        "credit_line": "439200.00",
        "reasons": [
            {
                "code": "amount-within-line",
                "kind": "rule",
                "message": "You asked for ¥480,000; the credit line your sales support is ¥439,200. An officer will "
                "review the application; ¥439,200 or less is decided automatically.",
                "message_en": "You asked for ¥480,000; the credit line your sales support is ¥439,200. An officer "
                "will review the application; ¥439,200 or less is decided automatically.",
                "message_zh": "您申请 ¥480,000，您的销售额可支持的额度为 ¥439,200。"
                "信贷员将审核本申请；申请不超过 ¥439,200 可自动审批。",
            }
        ],
        "decided_at": "2026-12-03T10:15:02+08:00",
    },
}
ACCEPTED = {
    **APPROVED,
    "state": "accepted",
    "state_label": "Offer accepted",
    "accepted_at": "2026-12-03T10:20:40+08:00",
}
WITHDRAWN = {
    **ACCEPTED,
    "state": "withdrawn",
    "state_label": "Withdrawn",
    "closed_at": "2026-12-03T10:31:12+08:00",
}
SIGNED = {
    **ACCEPTED,
    "state": "funded",
    "lenders": [
        {
            "code": "platform",
            "legal_name_zh": "示例支付科技有限公司 Example Payments Technology Co., Ltd.",
            "legal_name_en": "示例支付科技有限公司 Example Payments Technology Co., Ltd.",
            "share_percent": "30.00",
        },
        {
            "code": "demo-bank",
            "legal_name_zh": "示例合作银行股份有限公司",
            "legal_name_en": "Example Partner Bank Co., Ltd.",
            "share_percent": "70.00",
        },
    ],
    "state_label": "Funded",
    "signed_at": "2026-12-03T10:24:55+08:00",
    "contract": {
        "version": 1,
        "document_id": "6f1d2c8e-4b7a-4c1e-9a51-2d0c6b1f7e34",
        "status": "signed",
        "sha256": "9c1185a5c5e9fc54612808977ee8f548b2258d31f9a4f6b0d1e2c3a4b5c6d7e8",
        "signed_at": "2026-12-03T10:24:55+08:00",
        "consent_text_version": "2026-11",
    },
}

APPLY_REQUESTS = [
    OpenApiExample(
        "Apply and decide at once",
        summary="50,000.00 yuan on the operating loan over 3 months, decided in the same request",
        value={
            "product": "operating-loan",
            "amount": "50000.00",
            "term": "3",
            "repayment_method": "equal_instalment",
            "submit": True,
        },
        request_only=True,
    ),
    OpenApiExample(
        "A draft to submit later",
        value={"product": "operating-loan", "amount": "30000.00", "term": "6"},
        request_only=True,
    ),
]
APPLICATION_APPROVED = OpenApiExample(
    "Approved, with its offer",
    summary="The decision approves at grade A; the offer's APR, totals and schedule",
    value=APPROVED,
    response_only=True,
)
APPLICATION_REFERRED = OpenApiExample(
    "Referred to an officer",
    summary="Above the credit line the merchant's sales support: an officer decides",
    value=REFERRED,
    response_only=True,
)
APPLICATION_DRAFT = OpenApiExample("A draft", value=DRAFT, response_only=True, status_codes=[201])
APPLICATION_ACCEPTED = OpenApiExample(
    "Offer accepted: the contract is being prepared", value=ACCEPTED, response_only=True
)
WITHDRAW_REQUEST = OpenApiExample(
    "Withdraw, saying why", value={"reason": "We found cheaper financing elsewhere."}, request_only=True
)
APPLICATION_WITHDRAWN = OpenApiExample("Withdrawn", value=WITHDRAWN, response_only=True)
SIGN_REQUEST = OpenApiExample(
    "Sign, re-entering the password",
    value={"password": "correct horse battery staple", "consent": True},
    request_only=True,
)
APPLICATION_SIGNED = OpenApiExample(
    "Signed, and paid out at once (below the four-eyes amount)", value=SIGNED, response_only=True
)

__all__ = [
    "APPLICATION_ACCEPTED",
    "APPLICATION_APPROVED",
    "APPLICATION_DRAFT",
    "APPLICATION_REFERRED",
    "APPLICATION_SIGNED",
    "APPLICATION_WITHDRAWN",
    "APPLY_REQUESTS",
    "SIGN_REQUEST",
    "WITHDRAW_REQUEST",
]
