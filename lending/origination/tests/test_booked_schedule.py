"""The loan signed is the loan booked: interest runs from the payout date, the due dates count from it as the contract
says, the booked loan never costs more than the signed one, and the final schedule follows as a PDF with the payout
notice.

Each loan is signed on a chosen day (``signed_on``), made that day (``application_fund(on=...)``) and paid out on
another (``disbursement_send(on=...)``), through the real funding services and the simulated bank rail.
"""

import datetime
import hashlib
import io
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from pypdf import PdfReader

from core.models import AuditEvent, Notice
from lending.catalogue.money import quote
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr
from lending.catalogue.money.dates import add_months
from lending.catalogue.services.products import quote_terms_from_snapshot
from lending.catalogue.tests.factories import LoanProductFactory, ShortTermProductFactory
from lending.origination.models import FinalSchedule
from lending.origination.services.contract_pdf import contract_html
from lending.origination.services.final_schedule import final_schedule_render
from lending.origination.services.funding import (
    application_fund,
    applications_resume_stalled,
    disbursement_reconcile,
    disbursement_send,
)
from lending.origination.tests.factories import signed_on
from lending.servicing.models import Loan, LoanState

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")

# Signed (and funded) on the first day, paid out on the second.
ON_THE_SIGNING_DAY = (date(2026, 3, 10), date(2026, 3, 10))
DAYS_LATER = (date(2026, 3, 10), date(2026, 3, 16))
ACROSS_A_MONTH_END = (date(2026, 1, 30), date(2026, 2, 2))
# The first month after 27 February has 28 days; after 2 March, 31: priced from the payout it would cost more.
ACROSS_FEBRUARY_END = (date(2026, 2, 27), date(2026, 3, 2))


def instalment_product():
    """Monthly equal instalments at 12 % a year, with a 1 % fee taken from the payout."""
    return LoanProductFactory(code="operating-booked")


def short_term_product():
    """One payment at maturity after 7-90 days, at 0.04 % a day."""
    return ShortTermProductFactory(code="short-term-booked")


def month_bullet_product():
    """One payment a month after the payout at 0.03 % a day, with a 1 % fee taken from the payout."""
    return ShortTermProductFactory(
        code="short-term-month",
        term_unit="months",
        allowed_terms=[1, 2, 3],
        prices={"A": "0.000200", "B": "0.000250", "C": "0.000300", "D": "0.000350", "E": "0.000400"},
        origination_fee_rate=Decimal("0.010000"),
    )


PRODUCTS = {
    "instalments": (instalment_product, 12),
    "short-term": (short_term_product, 30),
    "one month": (month_bullet_product, 1),
}


def signed_and_paid(merchant, product, term: int, signed: date, paid: date, capture) -> Loan:
    """Sign on ``signed``, make the loan that day, pay it out on ``paid``; the tasks queued on commit run."""
    application = signed_on(merchant, product, signed, term=term)
    with capture(execute=False):
        loan = application_fund(application=application, on=signed)
    with capture(execute=True):
        disbursement_send(disbursement_id=loan.disbursement.pk, on=paid)
    return Loan.objects.get(pk=loan.pk)


def signed_terms(loan: Loan) -> dict:
    return loan.application.contracts.get().terms


def booked_rows(loan: Loan) -> list:
    return list(loan.instalments.order_by("number"))


def priced_from(loan: Loan, start: date):
    """The offer priced by the money engine from ``start``, with no cap: what the loan would cost uncapped."""
    application = loan.application
    return quote(
        quote_terms_from_snapshot(
            application.offer_terms,
            amount=application.offer_amount,
            term=application.offer_term,
            start_date=start,
            repayment_method=application.offer_repayment_method,
        )
    )


def apr_paid(loan: Loan) -> Decimal:
    """The APR of what the merchant pays on the booked schedule, counted from the payout date: the engine's own
    actuarial method over the booked instalments, worked out here from the rows, not taken from the loan."""
    rows = booked_rows(loan)
    monthly = loan.repayment_method != "bullet"
    apr, _unit = disclosed_apr(
        start_date=loan.start_date,
        advance=loan.net_disbursement,  # the fee is taken from the payout
        payments=[(row.due_date, row.payment_due) for row in rows],
        unit=UnitPeriod.MONTH if monthly else UnitPeriod.TERM,
        anchor_day=loan.start_date.day if monthly else None,
    )
    return apr


def same_distance(signed_start: date, signed_due: date, paid: date, term_unit: str) -> date:
    """The due date as far after ``paid`` as ``signed_due`` is after ``signed_start``: in days for a term in days,
    in whole calendar months otherwise (the contract's rule)."""
    if term_unit == "days":
        return paid + (signed_due - signed_start)
    months = next(k for k in range(1, 400) if add_months(signed_start, k) == signed_due)
    return add_months(paid, months)


def loan_events(loan: Loan, action: str):
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Loan), object_id=str(loan.pk), action=action
    ).order_by("id")


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# Signed and booked agree under the contract's rule.


@pytest.mark.parametrize(
    "dates",
    [ON_THE_SIGNING_DAY, DAYS_LATER, ACROSS_A_MONTH_END, ACROSS_FEBRUARY_END],
    ids=lambda d: f"signed-{d[0]}-paid-{d[1]}",
)
@pytest.mark.parametrize("kind", list(PRODUCTS))
def test_the_booked_loan_counts_from_the_payout_date_and_never_costs_more_than_signed(
    merchant, kind, dates, django_capture_on_commit_callbacks
):
    make_product, term = PRODUCTS[kind]
    product = make_product()
    signed, paid = dates

    loan = signed_and_paid(merchant, product, term, signed, paid, django_capture_on_commit_callbacks)

    terms = signed_terms(loan)
    assert terms["interest_start"] == {"rule": "payout_date", "schedule_assumes": signed.isoformat()}
    rows = booked_rows(loan)
    assert loan.state == LoanState.ACTIVE
    assert loan.start_date == paid
    assert len(rows) == len(terms["schedule"])
    for row, line in zip(rows, terms["schedule"], strict=True):
        assert row.due_date == same_distance(signed, date.fromisoformat(line["due_date"]), paid, product.term_unit)
    assert loan.maturity_date == rows[-1].due_date
    assert sum(row.principal_due for row in rows) == Decimal(terms["totals"]["principal"])
    booked_total = sum((row.payment_due for row in rows), ZERO)
    assert booked_total <= Decimal(terms["totals"]["total_repayable"])
    assert apr_paid(loan) <= Decimal(terms["apr"])
    assert loan.apr == apr_paid(loan)
    # The rule that applied is recorded when the loan is activated.
    booking = loan_events(loan, "loan.activate").get().data["booking"]
    assert booking["interest_from"] == paid.isoformat()
    assert booking["signed_total_repayable"] == terms["totals"]["total_repayable"]
    assert Decimal(booking["total_repayable"]) == booked_total


@pytest.mark.parametrize("kind", list(PRODUCTS))
def test_paid_out_on_the_signing_day_the_booked_schedule_is_the_signed_one(
    merchant, kind, django_capture_on_commit_callbacks
):
    make_product, term = PRODUCTS[kind]
    signed, paid = ON_THE_SIGNING_DAY

    loan = signed_and_paid(merchant, make_product(), term, signed, paid, django_capture_on_commit_callbacks)

    terms = signed_terms(loan)
    booked = [
        {
            "number": row.number,
            "due_date": row.due_date.isoformat(),
            "principal": f"{row.principal_due:.2f}",
            "interest": f"{row.interest_due:.2f}",
            "fee": f"{row.fee_due:.2f}",
            "payment": f"{row.payment_due:.2f}",
        }
        for row in booked_rows(loan)
    ]
    assert booked == [{key: line[key] for key in booked[0]} for line in terms["schedule"]]
    assert f"{loan.apr:.2f}" == terms["apr"]
    assert loan_events(loan, "loan.activate").get().data["booking"]["rule"] == "priced_from_payout"
    assert not loan_events(loan, "loan.book_from_payout").exists()


def test_paid_out_days_later_the_schedule_is_booked_again_from_the_payout_date_with_one_audit_row(
    merchant, django_capture_on_commit_callbacks
):
    signed, paid = DAYS_LATER

    loan = signed_and_paid(merchant, instalment_product(), 12, signed, paid, django_capture_on_commit_callbacks)

    rebooked = loan_events(loan, "loan.book_from_payout").get()
    assert rebooked.data["before"]["start_date"] == signed.isoformat()
    assert rebooked.data["before"]["schedule"][0]["due_date"] == "2026-04-10"
    assert rebooked.data["interest_from"] == paid.isoformat()
    assert rebooked.data["schedule"][0]["due_date"] == "2026-04-16"
    assert [row.due_date for row in booked_rows(loan)] == [add_months(paid, k) for k in range(1, 13)]
    # Six more days of the money cost nothing more: the first month is counted from the payout.
    assert rebooked.data["rule"] == "priced_from_payout"
    assert [(e.action, e.from_state, e.to_state) for e in loan_events(loan, "loan.activate")] == [
        ("loan.activate", "pending_disbursement", "active")
    ]


def test_when_pricing_from_the_payout_date_would_cost_more_the_signed_amounts_are_kept(
    merchant, django_capture_on_commit_callbacks
):
    signed, paid = ACROSS_FEBRUARY_END

    loan = signed_and_paid(merchant, instalment_product(), 12, signed, paid, django_capture_on_commit_callbacks)

    terms = signed_terms(loan)
    uncapped = priced_from(loan, paid)
    assert uncapped.total_repayable > Decimal(terms["totals"]["total_repayable"])  # the cap has work to do
    rows = booked_rows(loan)
    assert [(f"{row.principal_due:.2f}", f"{row.interest_due:.2f}") for row in rows] == [
        (line["principal"], line["interest"]) for line in terms["schedule"]
    ]
    assert [row.due_date for row in rows] == [add_months(paid, k) for k in range(1, 13)]
    assert sum((row.payment_due for row in rows), ZERO) == Decimal(terms["totals"]["total_repayable"])
    assert apr_paid(loan) == Decimal(terms["apr"])
    assert loan_events(loan, "loan.book_from_payout").get().data["rule"] == "signed_amounts"


def test_a_single_payment_in_a_shorter_month_has_its_interest_reduced_to_keep_the_signed_apr(
    merchant, django_capture_on_commit_callbacks
):
    # Signed on 30 January: due 28 February, 29 days. Paid out on 2 February: due 2 March, 28 days; the 1 % fee over
    # one day less would raise the APR.
    signed, paid = ACROSS_A_MONTH_END

    loan = signed_and_paid(merchant, month_bullet_product(), 1, signed, paid, django_capture_on_commit_callbacks)

    terms = signed_terms(loan)
    uncapped = priced_from(loan, paid)
    assert uncapped.apr > Decimal(terms["apr"])  # the cap has work to do
    (row,) = booked_rows(loan)
    assert row.due_date == date(2026, 3, 2)
    assert apr_paid(loan) <= Decimal(terms["apr"])
    assert row.payment_due < Decimal(terms["totals"]["total_repayable"])
    rebooked = loan_events(loan, "loan.book_from_payout").get()
    assert rebooked.data["rule"] == "interest_reduced"
    reduced_by = Decimal(rebooked.data["interest_reduced_by"])
    assert row.interest_due == uncapped.lines[0].interest - reduced_by
    # Reduced by no more than it takes: one fen less off the interest and the APR would be above the signed one.
    one_fen_more, _unit = disclosed_apr(
        start_date=paid,
        advance=loan.net_disbursement,
        payments=[(row.due_date, row.payment_due + Decimal("0.01"))],
        unit=UnitPeriod.TERM,
    )
    assert one_fen_more > Decimal(terms["apr"])


def test_a_payout_the_reconcile_job_confirms_days_later_is_booked_from_that_day(
    merchant, settings, django_capture_on_commit_callbacks
):
    signed, confirmed = date(2026, 3, 10), date(2026, 3, 13)
    application = signed_on(merchant, instalment_product(), signed)
    settings.PAYOUT_SIMULATION = "timeout"
    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application, on=signed)
    assert Loan.objects.get(pk=loan.pk).state == LoanState.PENDING_DISBURSEMENT

    settings.PAYOUT_SIMULATION = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_reconcile(
            disbursement_id=loan.disbursement.pk,
            stale_before=datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=1),
            on=confirmed,
        )

    loan.refresh_from_db()
    assert loan.state == LoanState.ACTIVE
    assert loan.start_date == confirmed
    assert booked_rows(loan)[0].due_date == date(2026, 4, 13)
    assert loan.final_schedule.terms["interest_from"] == confirmed.isoformat()


def test_a_single_payment_contract_counts_its_term_from_the_payout_date_in_both_languages(merchant):
    application = signed_on(merchant, short_term_product(), date(2026, 3, 10), term=30)

    html = contract_html(contract=application.contracts.get())

    assert "上表按 2026-03-10 放款测算" in html
    assert "到期日为放款日加借款期限 30 天" in html
    assert "The schedule above assumes the loan is paid out on 2026-03-10." in html
    assert "the single payment is due 30 days after the payout date)" in html


# The final schedule, with the payout notice.


@pytest.fixture
def paid_loan(merchant, django_capture_on_commit_callbacks) -> Loan:
    signed, paid = ACROSS_A_MONTH_END
    return signed_and_paid(merchant, instalment_product(), 12, signed, paid, django_capture_on_commit_callbacks)


def test_the_payout_notice_links_the_final_schedule_pdf_with_the_booked_schedule(paid_loan, client):
    loan = paid_loan
    notice = Notice.objects.get(user=loan.merchant.owner, title="Your loan has been paid out")
    assert notice.url == reverse("lending:loan-final-schedule", kwargs={"pk": loan.pk})
    assert "on 2026-02-02; interest runs from that day" in notice.body
    assert "final repayment schedule" in notice.body

    client.force_login(loan.merchant.owner)
    response = client.get(notice.url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    text = pdf_text(response.content)
    assert "最终还款计划" in text
    assert "Final Repayment Schedule" in text
    assert "interest runs from the payout date, 2026-02-02" in text
    for row in booked_rows(loan):
        assert row.due_date.isoformat() in text
        assert f"{row.payment_due:,.2f}" in text
    assert f"{loan.apr:.2f}%" in text
    terms = signed_terms(loan)
    assert f"{terms['apr']}%" in text
    assert loan.terms["contract"]["document_id"] in text
    final_schedule = loan.final_schedule
    assert final_schedule.sha256 == hashlib.sha256(response.content).hexdigest()
    render = AuditEvent.objects.get(action="final_schedule.render", object_id=str(final_schedule.pk))
    assert render.data["sha256"] == final_schedule.sha256


def test_the_final_schedule_is_in_chinese_with_the_cjk_font(paid_loan):
    final_schedule = paid_loan.final_schedule
    with final_schedule.pdf.open("rb") as stored:
        reader = PdfReader(io.BytesIO(stored.read()))
    fonts = {
        str(font.get_object()["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()
    }
    assert any("Noto-Sans-CJK-SC" in name for name in fonts), fonts
    assert reader.trailer["/Root"]["/Lang"] == "zh-CN"


def test_another_merchant_gets_404_for_the_final_schedule(paid_loan, client, other_merchant_owner):
    client.force_login(other_merchant_owner)

    response = client.get(reverse("lending:loan-final-schedule", kwargs={"pk": paid_loan.pk}))

    assert response.status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_for_the_final_schedule(paid_loan, client):
    response = client.get(reverse("lending:loan-final-schedule", kwargs={"pk": paid_loan.pk}))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_loan_page_links_the_final_schedule(paid_loan, client):
    client.force_login(paid_loan.merchant.owner)

    response = client.get(reverse("lending:loan-detail", kwargs={"pk": paid_loan.pk}))

    assert reverse("lending:loan-final-schedule", kwargs={"pk": paid_loan.pk}) in response.content.decode()


def test_rendering_again_keeps_the_file_and_hash_the_merchant_was_sent(paid_loan):
    final_schedule = paid_loan.final_schedule
    before = (final_schedule.sha256, final_schedule.pdf.name, final_schedule.rendered_at)

    again = final_schedule_render(final_schedule_id=final_schedule.pk)

    again.refresh_from_db()
    assert (again.sha256, again.pdf.name, again.rendered_at) == before
    assert AuditEvent.objects.filter(action="final_schedule.render", object_id=str(final_schedule.pk)).count() == 1


def test_a_final_schedule_whose_file_was_altered_is_not_served(paid_loan, client):
    final_schedule = paid_loan.final_schedule
    with final_schedule.pdf.storage.open(final_schedule.pdf.name, "wb") as stored:
        stored.write(b"%PDF-1.7 altered")
    client.force_login(paid_loan.merchant.owner)

    response = client.get(reverse("lending:loan-final-schedule", kwargs={"pk": paid_loan.pk}))

    assert response.status_code == 404


def test_a_final_schedule_still_being_prepared_shows_a_page_that_reloads_then_the_resume_job_renders_it(
    merchant, client, django_capture_on_commit_callbacks
):
    signed, paid = DAYS_LATER
    application = signed_on(merchant, instalment_product(), signed)
    with django_capture_on_commit_callbacks(execute=False):
        loan = application_fund(application=application, on=signed)
    with django_capture_on_commit_callbacks(execute=False):  # the render task is queued but never runs
        disbursement_send(disbursement_id=loan.disbursement.pk, on=paid)
    client.force_login(merchant.owner)
    url = reverse("lending:loan-final-schedule", kwargs={"pk": loan.pk})

    waiting = client.get(url)

    assert waiting.status_code == 200
    assert "Your final repayment schedule is being prepared" in waiting.content.decode()
    assert '<meta http-equiv="refresh"' in waiting.content.decode()
    FinalSchedule.objects.filter(loan=loan).update(created_at=datetime.datetime(2026, 3, 16, tzinfo=datetime.UTC))

    outcome = applications_resume_stalled()

    assert outcome == {"final schedule": 1}
    assert client.get(url)["Content-Type"] == "application/pdf"
