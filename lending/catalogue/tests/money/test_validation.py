"""Bad input names the field and what is allowed, for every field of a quote."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from lending.catalogue.money import (
    FeeTerms,
    QuoteError,
    QuoteTerms,
    RepaymentMethod,
    SalesShareTerms,
    TermUnit,
    project_sales_share,
    quote,
)

D = Decimal
START = date(2025, 1, 15)
VALID = {
    "amount": D("10000.00"),
    "term": 12,
    "start_date": START,
    "method": RepaymentMethod.EQUAL_INSTALMENT,
    "annual_rate": D("0.12"),
}
SALES_SHARE = SalesShareTerms(
    fee_factor=D("1.08"), share_rate=D("0.10"), average_daily_sales=D("800.00"), daily_fee_rate=D("0.000333")
)


def _error(**overrides) -> QuoteError:
    with pytest.raises(QuoteError) as error:
        quote(QuoteTerms(**{**VALID, **overrides}))
    return error.value


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": D("0")}, "amount", "must be greater than 0.00 and at most 999999999999.99"),
        ({"amount": D("-100.00")}, "amount", "must be greater than 0.00"),
        ({"amount": D("100.005")}, "amount", "with at most two decimal places"),
        ({"amount": D("1000000000000.00")}, "amount", "at most 999999999999.99"),
        ({"amount": 100.5}, "amount", "floats are refused"),
        ({"amount": "ten thousand"}, "amount", 'must be a decimal number such as "50000.00"'),
        ({"amount": D("1E+999999")}, "amount", "at most 999999999999.99"),
        ({"amount": D("NaN")}, "amount", "floats are refused"),
        ({"amount": True}, "amount", "floats are refused"),
        ({"start_date": "2025-01-15"}, "start_date", "must be a calendar date"),
        ({"start_date": datetime(2025, 1, 15, 9, 30)}, "start_date", "must be a calendar date"),
        ({"method": "balloon"}, "method", "must be one of: equal_instalment, equal_principal, interest_first, bullet"),
        ({"term": 0}, "term", "must be a whole number of months from 1 to 360"),
        ({"term": 361}, "term", "from 1 to 360"),
        ({"term": None}, "term", "must be a whole number of months"),
        ({"term": "12"}, "term", "must be a whole number"),
        ({"term": 12.0}, "term", "must be a whole number"),
        ({"term_unit": "weeks"}, "term_unit", "must be one of: months, days"),
        ({"term_unit": TermUnit.DAYS}, "term_unit", "days are allowed only for the bullet method"),
        ({"annual_rate": D("-0.01")}, "annual_rate", 'must be a fraction between 0 and 1 (for example "0.12")'),
        ({"annual_rate": D("12")}, "annual_rate", "between 0 and 1"),
        ({"annual_rate": 0.12}, "annual_rate", "floats are refused"),
        ({"annual_rate": None}, "annual_rate", "give exactly one of annual_rate and daily_rate"),
        ({"daily_rate": D("0.0005")}, "annual_rate", "give exactly one of annual_rate and daily_rate"),
        ({"annual_rate": None, "daily_rate": D("-0.0001")}, "daily_rate", "between 0 and 0.003"),
        ({"annual_rate": None, "daily_rate": D("0.05")}, "daily_rate", "between 0 and 0.003"),
        ({"day_count": "30/360"}, "day_count", "must be one of: actual_365, actual_360"),
        ({"first_due_date": START}, "first_due_date", "must be after the start date and no later than 2025-03-15"),
        ({"first_due_date": date(2025, 1, 1)}, "first_due_date", "must be after the start date"),
        ({"first_due_date": date(2025, 3, 16)}, "first_due_date", "no later than 2025-03-15"),
        ({"first_due_date": "2025-02-20"}, "first_due_date", "must be a calendar date"),
        (
            {"method": RepaymentMethod.BULLET, "first_due_date": date(2025, 2, 1)},
            "first_due_date",
            "applies to monthly instalment methods only",
        ),
        ({"fees": {"origination_rate": "0.01"}}, "fees", "must be a FeeTerms"),
        ({"sales_share": SALES_SHARE}, "sales_share", "applies to the sales_share method only"),
        (
            {"amount": D("1.00"), "term": 120, "method": RepaymentMethod.EQUAL_PRINCIPAL},
            "amount",
            "is too small to repay in 120 instalments",
        ),
    ],
)
def test_bad_quote_terms_are_refused_naming_the_field(overrides, field, message):
    error = _error(**overrides)
    assert error.field == field
    assert message in str(error)
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("fees", "field", "message"),
    [
        ({"origination_rate": D("-0.01")}, "fees.origination_rate", "between 0 and 0.5"),
        ({"origination_rate": D("0.6")}, "fees.origination_rate", "between 0 and 0.5"),
        ({"origination_rate": 0.01}, "fees.origination_rate", "floats are refused"),
        ({"origination_fixed": D("-1.00")}, "fees.origination_fixed", "must be between 0.00 and 999999999999.99"),
        ({"origination_fixed": D("1.001")}, "fees.origination_fixed", "at most two decimal places"),
        (
            {"origination_fixed": D("100.00"), "origination_rate": D("0.01")},
            "fees.origination_fixed",
            "either an origination rate or a fixed fee, not both",
        ),
        ({"origination_timing": "later"}, "fees.origination_timing", "must be one of: deducted, upfront, financed"),
        ({"periodic_rate": D("-0.001")}, "fees.periodic_rate", "between 0 and 0.1"),
        ({"periodic_rate": D("0.2")}, "fees.periodic_rate", "between 0 and 0.1"),
    ],
)
def test_bad_fee_terms_are_refused_naming_the_field(fees, field, message):
    with pytest.raises(QuoteError) as error:
        FeeTerms(**fees)
    assert error.value.field == field
    assert message in str(error.value)


def test_origination_fee_as_large_as_the_amount_is_refused():
    error = _error(fees=FeeTerms(origination_fixed=D("10000.00")))
    assert error.field == "fees.origination_fixed"
    assert "the origination fee must be less than the amount" in str(error)


def test_periodic_fee_on_a_single_payment_loan_is_refused():
    error = _error(method=RepaymentMethod.BULLET, fees=FeeTerms(periodic_rate=D("0.006")))
    assert error.field == "fees.periodic_rate"
    assert "use an origination fee instead" in str(error)


def test_bullet_term_in_days_is_limited_to_five_years():
    error = _error(method=RepaymentMethod.BULLET, term=1831, term_unit=TermUnit.DAYS)
    assert error.field == "term"
    assert "must be a whole number of days from 1 to 1830" in str(error)


@pytest.mark.parametrize(
    ("sales_share", "field", "message"),
    [
        ({"fee_factor": D("1.01")}, "sales_share.fee_factor", "must be between 1.02 and 1.15"),
        ({"fee_factor": D("1.16")}, "sales_share.fee_factor", "must be between 1.02 and 1.15"),
        ({"fee_factor": 1.08}, "sales_share.fee_factor", "floats are refused"),
        ({"share_rate": D("0")}, "sales_share.share_rate", "above 0 and at most 1"),
        ({"share_rate": D("1.5")}, "sales_share.share_rate", "above 0 and at most 1"),
        ({"average_daily_sales": D("-1.00")}, "sales_share.average_daily_sales", "must be between 0.00"),
        ({"average_daily_sales": "lots"}, "sales_share.average_daily_sales", "floats are refused"),
        ({"daily_fee_rate": D("0.0031")}, "sales_share.daily_fee_rate", "between 0 and 0.003"),
        ({"daily_fee_rate": D("-0.0001")}, "sales_share.daily_fee_rate", "between 0 and 0.003"),
        ({"daily_fee_rate": 0.0003}, "sales_share.daily_fee_rate", "floats are refused"),
    ],
)
def test_bad_sales_share_terms_are_refused_naming_the_field(sales_share, field, message):
    values = {
        "fee_factor": D("1.08"),
        "share_rate": D("0.10"),
        "average_daily_sales": D("800.00"),
        "daily_fee_rate": D("0.000333"),
        **sales_share,
    }
    with pytest.raises(QuoteError) as error:
        project_sales_share(amount=D("10000.00"), start_date=START, **values)
    assert error.value.field == field
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({}, "sales_share", "is required for the sales_share method"),
        ({"sales_share": SALES_SHARE, "term": 12}, "term", "must be left out for the sales_share method"),
        ({"sales_share": SALES_SHARE, "annual_rate": D("0.1")}, "annual_rate", "its price is the fee factor"),
        ({"sales_share": SALES_SHARE, "first_due_date": date(2025, 2, 1)}, "first_due_date", "must be left out"),
        (
            {"sales_share": SALES_SHARE, "fees": FeeTerms(origination_rate=D("0.01"))},
            "fees",
            "its price is the fee factor",
        ),
    ],
)
def test_sales_share_quote_takes_its_price_from_the_fee_factor_only(overrides, field, message):
    with pytest.raises(QuoteError) as error:
        QuoteTerms(amount=D("10000.00"), start_date=START, method=RepaymentMethod.SALES_SHARE, **overrides)
    assert error.value.field == field
    assert message in str(error.value)


def test_projection_refuses_a_bad_amount_and_start_date():
    values = {
        "fee_factor": D("1.08"),
        "share_rate": D("0.10"),
        "average_daily_sales": D("800.00"),
        "daily_fee_rate": D("0.000333"),
    }
    with pytest.raises(QuoteError) as error:
        project_sales_share(amount=D("0.00"), start_date=START, **values)
    assert error.value.field == "amount"
    with pytest.raises(QuoteError) as error:
        project_sales_share(amount=D("100.00"), start_date=None, **values)
    assert error.value.field == "start_date"


def test_quote_error_is_a_value_error():
    assert issubclass(QuoteError, ValueError)
    with pytest.raises(ValueError, match="amount: "):
        QuoteTerms(**{**VALID, "amount": D("0")})


@pytest.mark.parametrize("start", [date(9999, 12, 1), date(2200, 1, 1), date(1899, 12, 31)])
def test_a_start_date_outside_the_calendar_range_is_refused_by_name(start):
    with pytest.raises(QuoteError) as refused:
        quote(
            QuoteTerms(
                amount=Decimal("10000.00"),
                term=360,
                start_date=start,
                method=RepaymentMethod.EQUAL_INSTALMENT,
                annual_rate=Decimal("0.12"),
            )
        )
    assert refused.value.field == "start_date"
    assert "2199-12-31" in str(refused.value)
