"""The allocation waterfall, worked by hand: fees, late fees, interest, principal; oldest instalment first."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lending.catalogue.money.waterfall import Outstanding, WaterfallError, allocate

D = Decimal


def lines(result):
    return [(line.key, line.component, line.amount) for line in result.allocations]


def test_partial_payment_covers_fee_and_late_fee_then_part_of_the_interest():
    owed = [Outstanding(key=1, fee=D("10.00"), penalty=D("5.50"), interest=D("120.00"), principal=D("946.19"))]

    result = allocate(outstanding=owed, amount=D("100.00"))

    assert lines(result) == [(1, "fee", D("10.00")), (1, "penalty", D("5.50")), (1, "interest", D("84.50"))]
    assert result.credit == D("0.00")


def test_oldest_instalment_is_paid_in_full_before_the_next_one_gets_anything():
    owed = [
        Outstanding(key=1, penalty=D("3.00"), interest=D("120.00"), principal=D("946.19")),
        Outstanding(key=2, penalty=D("1.00"), interest=D("110.54"), principal=D("955.65")),
    ]

    result = allocate(outstanding=owed, amount=D("1100.00"))

    assert lines(result) == [
        (1, "penalty", D("3.00")),
        (1, "interest", D("120.00")),
        (1, "principal", D("946.19")),
        (2, "penalty", D("1.00")),
        (2, "interest", D("29.81")),
    ]


def test_overpayment_beyond_everything_offered_is_held_as_credit():
    owed = [Outstanding(key=7, interest=D("10.00"), principal=D("90.00"))]

    result = allocate(outstanding=owed, amount=D("150.01"))

    assert lines(result) == [(7, "interest", D("10.00")), (7, "principal", D("90.00"))]
    assert result.credit == D("50.01")


def test_credit_balance_is_spent_with_the_payment():
    owed = [Outstanding(key=1, interest=D("10.00"), principal=D("90.00"))]

    result = allocate(outstanding=owed, amount=D("60.00"), credit_balance=D("50.00"))

    assert result.allocated == D("100.00")
    assert result.credit == D("10.00")


def test_within_an_instalment_fees_then_late_fees_then_interest_then_principal_are_paid():
    owed = [Outstanding(key=1, fee=D("5.00"), penalty=D("3.00"), interest=D("10.00"), principal=D("20.00"))]

    result = allocate(outstanding=owed, amount=D("25.00"))

    assert lines(result) == [
        (1, "fee", D("5.00")),
        (1, "penalty", D("3.00")),
        (1, "interest", D("10.00")),
        (1, "principal", D("7.00")),
    ]


@pytest.mark.parametrize("amount", [D("-1.00"), D("0.001"), 10])
def test_a_negative_or_fractional_fen_amount_is_refused(amount):
    with pytest.raises(WaterfallError, match="amount must be a Decimal"):
        allocate(outstanding=[], amount=amount)


cents = st.integers(min_value=0, max_value=500_000).map(lambda fen: D(fen) / 100)


@given(
    owed=st.lists(st.tuples(cents, cents, cents, cents), max_size=6),
    amount=cents,
    credit=cents,
)
def test_no_fen_is_lost_or_made_and_no_component_is_overpaid(owed, amount, credit):
    outstanding = [
        Outstanding(key=k, fee=f, penalty=p, interest=i, principal=pr) for k, (f, p, i, pr) in enumerate(owed)
    ]

    result = allocate(outstanding=outstanding, amount=amount, credit_balance=credit)

    assert result.allocated + result.credit == amount + credit
    for line in result.allocations:
        assert D(0) < line.amount <= getattr(outstanding[line.key], line.component)
    assert result.credit == max(amount + credit - sum((o.total for o in outstanding), D(0)), D(0))
