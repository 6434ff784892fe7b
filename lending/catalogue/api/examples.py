"""Examples for the interactive API docs: the operating loan as the catalogue offers it, and a quote on it
(50,000.00 yuan over three months at the standard grade C; the grades' table gives every grade's APR)."""

from drf_spectacular.utils import OpenApiExample

PRODUCT = {
    "code": "operating-loan",
    "name": "Merchant operating loan",
    "name_zh": "经营贷",
    "name_en": "Merchant operating loan",
    "kind": "operating_loan",
    "currency": "CNY",
    "amount_min": "10000.00",
    "amount_max": "500000.00",
    "term_unit": "months",
    "allowed_terms": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
    "terms_description": "from 3 to 24 months",
    "repayment_methods": [
        {"value": "equal_instalment", "label": "Equal instalments"},
        {"value": "equal_principal", "label": "Equal principal"},
    ],
    "price_basis": "annual_rate",
    "indicative_grade": "C",
    "prices": [
        {"grade": "A", "price": "0.072000", "label": "7.20 % a year"},
        {"grade": "B", "price": "0.096000", "label": "9.60 % a year"},
        {"grade": "C", "price": "0.120000", "label": "12.00 % a year"},
        {"grade": "D", "price": "0.144000", "label": "14.40 % a year"},
        {"grade": "E", "price": "0.170000", "label": "17.00 % a year"},
    ],
    "day_count": "actual_365",
    "origination_fee_rate": "0.010000",
    "origination_fee_fixed": "0.00",
    "origination_fee_timing": "deducted",
    "late_fee_daily_rate": "0.000500",
    "late_fee_fixed": "0.00",
    "grace_days": 3,
    "prepayment_policy": "allowed_with_fee",
    "prepayment_fee_rate": "0.010000",
    "offer_validity_days": 7,
    "deferral_max_days": 30,
    "deferrals_per_loan": 1,
    "sales_share": None,
}
QUOTE = {
    "product": "operating-loan",
    "grade": "C",
    "indicative": True,
    "repayment_method": "equal_instalment",
    "term": 3,
    "term_unit": "months",
    "start_date": "2026-12-03",
    "amount": "50000.00",
    "net_disbursement": "49500.00",
    "insurance_premium": "0.00",
    "apr": "18.17",
    "day_count": "actual_365",
    "day_count_statement": "Interest accrues by actual days (actual/365) on the principal outstanding, at the "
    "annual rate divided by 365 a day, only for the days it is outstanding.",
    "apr_method_statement": "APR by the actuarial (IRR) method on what you actually pay (amounts rounded to the "
    "fen, on their real dates), fees included; the unit period is a month, whole unit "
    "periods are counted back from each payment, and the rate is shown to two decimals, "
    "rounded up.",
    "total_interest": "1006.17",
    "total_fees": "500.00",
    "total_cost_of_credit": "1506.17",
    "total_repayable": "51006.17",
    "schedule": [
        {
            "number": 1,
            "due_date": "2027-01-03",
            "principal": "16492.47",
            "interest": "509.59",
            "fee": "0.00",
            "payment": "17002.06",
            "balance": "33507.53",
        },
        {
            "number": 2,
            "due_date": "2027-02-03",
            "principal": "16660.56",
            "interest": "341.50",
            "fee": "0.00",
            "payment": "17002.06",
            "balance": "16846.97",
        },
        {
            "number": 3,
            "due_date": "2027-03-03",
            "principal": "16846.97",
            "interest": "155.08",
            "fee": "0.00",
            "payment": "17002.05",
            "balance": "0.00",
        },
    ],
    "grades": [
        {
            "grade": "A",
            "price": "0.072000",
            "price_label": "7.20 % a year",
            "apr": "13.32",
            "total_repayable": "50602.88",
        },
        {
            "grade": "B",
            "price": "0.096000",
            "price_label": "9.60 % a year",
            "apr": "15.75",
            "total_repayable": "50804.39",
        },
        {
            "grade": "C",
            "price": "0.120000",
            "price_label": "12.00 % a year",
            "apr": "18.17",
            "total_repayable": "51006.17",
        },
        {
            "grade": "D",
            "price": "0.144000",
            "price_label": "14.40 % a year",
            "apr": "20.59",
            "total_repayable": "51208.23",
        },
        {
            "grade": "E",
            "price": "0.170000",
            "price_label": "17.00 % a year",
            "apr": "23.22",
            "total_repayable": "51427.43",
        },
    ],
    "sales_share": None,
}

PRODUCT_OFFERED = OpenApiExample("The operating loan", value=PRODUCT, response_only=True)
QUOTE_REQUEST = OpenApiExample(
    "50,000.00 yuan over 3 months in equal instalments",
    value={"product": "operating-loan", "amount": "50000.00", "term": "3", "repayment_method": "equal_instalment"},
    request_only=True,
)
QUOTE_ANSWER = OpenApiExample(
    "The schedule, total cost and APR at grade C, with every grade’s APR", value=QUOTE, response_only=True
)

__all__ = ["PRODUCT_OFFERED", "QUOTE_ANSWER", "QUOTE_REQUEST"]
