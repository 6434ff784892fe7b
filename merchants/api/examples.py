"""Examples for the interactive API docs: a verified restaurant in Shenzhen, its sales days and the platform feed."""

from drf_spectacular.utils import OpenApiExample

PROFILE = {
    "id": 57,
    "owner": "owner@shenzhen-noodles.example",
    "legal_name": "深圳市甲餐饮管理有限公司",
    "credit_code": "91440300000004217D",
    "industry": "H6210",
    "province": "440000",
    "city": "深圳",
    "founded_on": "2019-03-01",
    "legal_rep_name": "张三",
    "legal_rep_id_number": "440***********2172",
    "mobile": "13912345678",
    "settlement_bank_name": "招商银行深圳分行",
    "settlement_account_name": "深圳市甲餐饮管理有限公司",
    "settlement_account_number": "6225880000000042",
    "kyc_state": "verified",
    "kyc_state_label": "Verified",
    "kyc_rejection_reason": "",
    "kyc_submitted_at": "2026-11-20T15:02:11+08:00",
    "kyc_reviewed_at": "2026-11-21T09:40:03+08:00",
    "missing_fields": [],
    "missing_documents": [],
    "updated_at": "2026-11-21T09:40:03+08:00",
}
DRAFT_PROFILE = {
    **PROFILE,
    "mobile": "13987654321",
    "kyc_state": "draft",
    "kyc_state_label": "Draft",
    "kyc_submitted_at": None,
    "kyc_reviewed_at": None,
    "missing_documents": ["Business licence", "ID card, front", "ID card, back"],
    "updated_at": "2026-11-19T18:20:45+08:00",
}
_DAY = {
    "date": "2026-12-02",
    "gross_sales": "8724.69",
    "refunds": "42.00",
    "transaction_count": 151,
    "distinct_customers": 140,
    "source": "platform",
    "source_label": "Platform settlement feed",
}
_DECLARED_DAY = {
    "date": "2026-12-01",
    "gross_sales": "3210.50",
    "refunds": "0.00",
    "transaction_count": "61",
    "distinct_customers": "52",
}

MERCHANT = OpenApiExample("A verified business", value=PROFILE, response_only=True)
MERCHANT_CHANGE = OpenApiExample(
    "A new mobile number (while the profile is a draft)", value={"mobile": "13987654321"}, request_only=True
)
MERCHANT_CHANGED = OpenApiExample("The draft profile, changed", value=DRAFT_PROFILE, response_only=True)
SALES_DAY = OpenApiExample("A day from the platform's feed", value=_DAY, response_only=True)
SALES_DECLARE = OpenApiExample(
    "One day taken at a market stall", value={"days": [_DECLARED_DAY]}, request_only=True, media_type="application/json"
)
SALES_DECLARED = OpenApiExample(
    "Imported",
    value={"created": 1, "replaced": 0, "unchanged": 0, "first_date": "2026-12-01", "last_date": "2026-12-01"},
    response_only=True,
)
FEED_BATCH = OpenApiExample(
    "One merchant's day in the settlement batch",
    value={
        "batch_id": "settlement-2026-12-02",
        "merchant_credit_code": "91440300000004217D",
        "days": [{**_DECLARED_DAY, "date": "2026-12-02", "gross_sales": "8724.69", "refunds": "42.00"}],
    },
    request_only=True,
)
FEED_WRITTEN = OpenApiExample(
    "Written",
    value={
        "batch_id": "settlement-2026-12-02",
        "merchant_credit_code": "91440300000004217D",
        "created": 1,
        "replaced": 0,
        "unchanged": 0,
        "first_date": "2026-12-02",
        "last_date": "2026-12-02",
    },
    response_only=True,
)

__all__ = [
    "FEED_BATCH",
    "FEED_WRITTEN",
    "MERCHANT",
    "MERCHANT_CHANGE",
    "MERCHANT_CHANGED",
    "SALES_DAY",
    "SALES_DECLARE",
    "SALES_DECLARED",
]
