"""Every list in the API: cursor pages with a cap, filters that refuse bad values by name, and a query count that
does not grow with the list.

The cases are keyed by the schema's operation ids. A list operation added to the API without a case here fails
``test_every_list_in_the_schema_has_a_case``, as an operation missing from the authorisation matrix does; an
operation answering a bare JSON array (a list without pages) fails ``test_no_operation_answers_a_bare_array``.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from core.api.pagination import DefaultCursorPagination
from core.models import JobChunk, JobRun
from lending.catalogue.tests.factories import InstalmentProductFactory, LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import LoanState
from lending.servicing.tests.factories import active_loan
from merchants.models import SalesDay
from partners.models import Distribution, OfferState, PartnerSettlement, SettlementStatus
from partners.tests.factories_api import FundingPartnerFactory, co_funded_loan, offer_to, repaid_and_settled
from tests.api.conftest import generate_schema, schema_operations
from underwriting.choices import Outcome
from underwriting.models import Decision

pytestmark = pytest.mark.django_db
# Days of sales the sales case adds, far from any other test's: the list is asked for this year only.
SALES_YEAR = 2001


def _applications(merchant, count: int, start: int) -> None:
    """Half drafts, half declined with their decision (the list reads each application's decision and product)."""
    product = LoanProductFactory(code=f"list-product-{start}")
    for n in range(start, start + count):
        declined = n % 2 == 1
        application = LoanApplication.objects.create(
            merchant=merchant,
            product=product,
            amount=Decimal("20000.00") + n,
            term=12,
            repayment_method=product.repayment_methods[0],
            state=ApplicationState.DECLINED if declined else ApplicationState.DRAFT,
        )
        if declined:
            decision = Decision.objects.create(
                merchant=merchant,
                application_id=application.pk,
                outcome=Outcome.DECLINE,
                requested_amount=application.amount,
                credit_line=Decimal("0.00"),
            )
            LoanApplication.objects.filter(pk=application.pk).update(decision=decision)


def _loans(merchant, count: int, start: int) -> None:
    """Active loans, every third one overdue, each on a product of its own (the list reads the product)."""
    for n in range(start, start + count):
        active_loan(
            merchant,
            code=f"list-loan-{n}",
            state=LoanState.OVERDUE if n % 3 == 2 else LoanState.ACTIVE,
        )


def _products(_merchant, count: int, start: int) -> None:
    for n in range(start, start + count):
        if n % 2:
            InstalmentProductFactory(code=f"list-instalments-{n}")
        else:
            LoanProductFactory(code=f"list-operating-{n}")


def _sales(merchant, count: int, start: int) -> None:
    first = datetime.date(SALES_YEAR, 1, 1)
    SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=first + datetime.timedelta(days=n),
            gross_sales=Decimal("1000.00") + n,
            refunds=Decimal("0.00"),
            transaction_count=10,
            distinct_customers=8,
        )
        for n in range(start, start + count)
    )


def _job_runs(_merchant, count: int, start: int) -> None:
    """Nightly runs with two chunks each, every other one failed (with its failed chunk's error)."""
    for n in range(start, start + count):
        failed = n % 2 == 1
        run = JobRun.objects.create(
            job="lending-servicing-daily",
            business_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=n),
            status="failed" if failed else "done",
            chunk_size=2000,
            chunks_total=2,
        )
        JobChunk.objects.create(run=run, number=1, last_id=2000, status="done", attempts=1)
        JobChunk.objects.create(
            run=run, number=2, first_id=2001, status="failed" if failed else "done", attempts=1, error="gone" * failed
        )


def _partner_offers(partner, count: int, start: int) -> None:
    """Loans offered to the partner, every other one declined (the list reads each application and agreement)."""
    for n in range(start, start + count):
        offer_to(partner, state=OfferState.DECLINED if n % 2 else OfferState.OFFERED)


def _partner_loans(partner, count: int, start: int) -> None:
    """Loans the partner co-funds, every third one overdue (the list reads each loan's balance)."""
    for n in range(start, start + count):
        co_funded_loan(partner, state=LoanState.OVERDUE if n % 3 == 2 else LoanState.ACTIVE)


def _partner_distributions(partner, count: int, start: int) -> None:
    """Repayments of loans the partner co-funds, each shared among the lenders; every other one in SALES_YEAR."""
    for n in range(start, start + count):
        loan = co_funded_loan(partner)
        reference = f"list-repaid-{n}"
        repaid_and_settled(partner, loan, amount=Decimal("1100.00"), reference=reference)
        if n % 2:
            Distribution.objects.filter(payment__external_reference=reference).update(
                business_date=datetime.date(SALES_YEAR, 1, 1) + datetime.timedelta(days=n)
            )


def _partner_settlements(partner, count: int, start: int) -> None:
    """Settlements of consecutive past days, every other one paid."""
    for n in range(start, start + count):
        PartnerSettlement.objects.create(
            partner=partner,
            business_date=datetime.date(SALES_YEAR, 1, 1) + datetime.timedelta(days=n),
            status=SettlementStatus.PAID if n % 2 else SettlementStatus.READY,
        )


def _claims(merchant, count: int, start: int) -> None:
    """Claims submitted to the list's insurer on covered loans of ``merchant``, every third one rejected."""
    from django.utils import timezone

    from lending.servicing.tests.factories import make_loan
    from partners.models import ClaimState, InsuranceAgreement, InsuranceClaim, InsuranceCover

    insurer = _list_insurer()
    product = LoanProductFactory(code="list-insured")
    agreement = InsuranceAgreement.objects.filter(insurer=insurer).first() or InsuranceAgreement.objects.create(
        insurer=insurer,
        version=1,
        grades=["C"],
        cover_share=Decimal("0.8000"),
        premium_rate=Decimal("0.008"),
        premium_payer="platform",
        claim_after_dpd=60,
        created_by=insurer.api_user,
    )
    for n in range(start, start + count):
        loan = make_loan(merchant, product, state=LoanState.DEFAULTED)
        cover = InsuranceCover.objects.create(
            loan=loan,
            insurer=insurer,
            agreement=agreement,
            cover_share=agreement.cover_share,
            premium=Decimal("96.00"),
            premium_payer="platform",
            covered_principal=loan.principal,
        )
        claim = InsuranceClaim.objects.create(
            loan=loan,
            cover=cover,
            loss_on=datetime.date(2027, 5, 4),
            days_past_due=90,
            principal_lost=Decimal("12000.00"),
            interest_lost=Decimal(n),
            claimable=Decimal("9600.00") + Decimal(n) * Decimal("0.8"),
        )
        state = ClaimState.REJECTED if n % 3 == 2 else ClaimState.SUBMITTED
        # Set-up only: the claim as the officer's submission (and the insurer's refusal) leaves it.
        InsuranceClaim.objects.filter(pk=claim.pk).update(state=state, submitted_at=timezone.now())


def _list_insurer():
    from accounts.roles import Role
    from accounts.tests.factories import make_user
    from partners.models import Insurer

    insurer = Insurer.objects.filter(code="list-insurer").first()
    if insurer is None:
        insurer = Insurer.objects.create(
            code="list-insurer",
            legal_name_zh="列表财产保险股份有限公司",
            legal_name_en="List Property Insurance Co., Ltd.",
            licence_number="00054321",
            api_user=make_user(Role.PARTNER, email="api@list-insurer.example"),
        )
    return insurer


@dataclass(frozen=True)
class ListCase:
    path: str
    make: Callable[[object, int, int], None]  # (merchant, how many, first serial): rows the persona sees
    filter: dict[str, str]  # a filter that keeps some of the rows ``make`` adds, not all
    kept: Callable[[dict], bool]  # what every row the filter keeps satisfies
    bad_filter: dict[str, str] = field(default_factory=dict)  # a value the filter refuses, naming its field
    anonymous: bool = False  # public: asked without signing in
    params: dict[str, str] = field(default_factory=dict)  # always sent (the sales case's year)
    staff: bool = False  # asked by a loan officer (staff lists), not by the merchant
    partner: bool = False  # asked by a partner bank, whose rows ``make`` adds (it gets the partner, not a merchant)
    as_user: Callable[[], object] | None = None  # who asks, when not the merchant (an insurer's account)


LISTS: dict[str, ListCase] = {
    "partner_claims_list": ListCase(
        path="/api/v1/partner/claims/",
        make=_claims,
        filter={"state": "rejected"},
        kept=lambda row: row["state"] == "rejected",
        bad_filter={"state": "opened"},
        as_user=lambda: _list_insurer().api_user,
    ),
    "applications_list": ListCase(
        path="/api/v1/applications/",
        make=_applications,
        filter={"state": "declined"},
        kept=lambda row: row["state"] == "declined" and row["decision"]["outcome"] == "decline",
        bad_filter={"state": "pending"},
    ),
    "loans_list": ListCase(
        path="/api/v1/loans/",
        make=_loans,
        filter={"state": "overdue"},
        kept=lambda row: row["state"] == "overdue",
        bad_filter={"state": "late"},
    ),
    "products_list": ListCase(
        path="/api/v1/products/",
        make=_products,
        filter={"kind": "instalment_loan"},
        kept=lambda row: row["kind"] == "instalment_loan",
        bad_filter={"kind": "mortgage"},
        anonymous=True,
    ),
    "sales_list": ListCase(
        path="/api/v1/sales/",
        make=_sales,
        filter={"to": f"{SALES_YEAR}-01-03"},
        kept=lambda row: row["date"] <= f"{SALES_YEAR}-01-03",
        bad_filter={"from": "yesterday"},
        params={"from": f"{SALES_YEAR}-01-01", "to": f"{SALES_YEAR}-12-31"},
    ),
    "jobs_runs_list": ListCase(
        path="/api/v1/jobs/runs/",
        make=_job_runs,
        filter={"status": "failed"},
        kept=lambda row: row["status"] == "failed" and row["failed"][0]["error"] == "gone",
        bad_filter={"status": "stuck"},
        staff=True,
    ),
    "partner_offers_list": ListCase(
        path="/api/v1/partner/offers/",
        make=_partner_offers,
        filter={"state": "declined"},
        kept=lambda row: row["state"] == "declined",
        bad_filter={"state": "maybe"},
        partner=True,
    ),
    "partner_distributions_list": ListCase(
        path="/api/v1/partner/distributions/",
        make=_partner_distributions,
        filter={"business_date_to": f"{SALES_YEAR}-12-31"},
        kept=lambda row: row["business_date"] <= f"{SALES_YEAR}-12-31",
        bad_filter={"component": "tips"},
        partner=True,
    ),
    "partner_settlements_list": ListCase(
        path="/api/v1/partner/settlements/",
        make=_partner_settlements,
        filter={"status": "paid"},
        kept=lambda row: row["status"] == "paid",
        bad_filter={"status": "owed"},
        partner=True,
    ),
    "partner_loans_list": ListCase(
        path="/api/v1/partner/loans/",
        make=_partner_loans,
        filter={"state": "overdue"},
        kept=lambda row: row["state"] == "overdue",
        bad_filter={"state": "late"},
        partner=True,
    ),
}


def _list_operations(schema: dict) -> dict[str, str]:
    """operationId -> path of every GET answering a page of rows (a ``Paginated…`` schema)."""
    found = {}
    for operation_id, (method, path, operation) in schema_operations(schema).items():
        answer = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if method == "GET" and "/Paginated" in answer.get("schema", {}).get("$ref", ""):
            found[operation_id] = path
    return found


def test_every_list_in_the_schema_has_a_case():
    lists = _list_operations(generate_schema())

    assert set(lists) == set(LISTS), "add a ListCase for each new list operation (and drop removed ones)"
    for operation_id, path in lists.items():
        assert LISTS[operation_id].path == path


def test_no_operation_answers_a_bare_array():
    schema = generate_schema()
    bare = []
    for operation_id, (_method, _path, operation) in schema_operations(schema).items():
        for status, response in operation["responses"].items():
            body = response.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("type") == "array":
                bare.append(f"{operation_id} {status}")

    assert bare == [], "a list answers in cursor pages (DefaultCursorPagination), never as a bare array"


@pytest.fixture
def list_partner(db):
    return FundingPartnerFactory(code="list-bank")


@pytest.fixture
def client_for(merchant, loan_officer, list_partner):
    def make(case: ListCase) -> APIClient:
        client = APIClient()
        if case.staff:
            client.force_authenticate(loan_officer)
        elif case.partner:
            client.force_authenticate(list_partner.api_user)
        elif case.as_user:
            client.force_authenticate(case.as_user())
        elif not case.anonymous:
            client.force_authenticate(merchant.owner)
        return client

    return make


@pytest.fixture
def owner_for(merchant, list_partner):
    """Whose rows a case adds: the merchant's, or the partner bank's for the partner API's lists."""
    return lambda case: list_partner if case.partner else merchant


def _get(client: APIClient, case: ListCase, **params):
    response = client.get(case.path, {**case.params, **params})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("operation_id", sorted(LISTS))
def test_the_query_count_does_not_grow_with_the_list(operation_id, owner_for, client_for):
    case = LISTS[operation_id]
    client = client_for(case)
    case.make(owner_for(case), 3, 0)
    with CaptureQueriesContext(connection) as few:
        rows_few = len(_get(client, case, page_size="200")["results"])

    case.make(owner_for(case), 12, 3)
    with CaptureQueriesContext(connection) as more:
        rows_more = len(_get(client, case, page_size="200")["results"])

    assert rows_more >= rows_few + 12
    assert len(more.captured_queries) == len(few.captured_queries), [q["sql"] for q in more.captured_queries]


@pytest.mark.parametrize("operation_id", sorted(LISTS))
def test_pages_follow_a_cursor_and_their_size_is_capped(operation_id, owner_for, client_for):
    case = LISTS[operation_id]
    client = client_for(case)
    case.make(owner_for(case), 5, 0)

    first = _get(client, case, page_size="2")
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert first["results"] != second["results"]
    paginator = resolve(case.path).func.view_class.pagination_class
    assert issubclass(paginator, DefaultCursorPagination)
    assert paginator.max_page_size == 200
    # Asked for far more than the cap, a page holds the cap (200 rows would cost every case hundreds of rows here).
    asked = Request(APIRequestFactory().get(case.path, {"page_size": "100000"}))
    assert paginator().get_page_size(asked) == 200
    assert _get(client, case, page_size="100000")["results"]


@pytest.mark.parametrize("operation_id", sorted(LISTS))
def test_a_filter_keeps_only_the_rows_it_names(operation_id, owner_for, client_for):
    case = LISTS[operation_id]
    client = client_for(case)
    case.make(owner_for(case), 6, 0)

    everything = _get(client, case, page_size="200")["results"]
    kept = _get(client, case, page_size="200", **case.filter)["results"]

    assert kept
    assert all(case.kept(row) for row in kept)
    assert len(kept) < len(everything)


@pytest.mark.parametrize("operation_id", sorted(LISTS))
def test_a_value_a_filter_refuses_is_a_400_naming_the_field(operation_id, client_for):
    case = LISTS[operation_id]
    client = client_for(case)
    (name, value), *_others = case.bad_filter.items()

    response = client.get(case.path, {**case.params, name: value})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == [name]


@pytest.mark.parametrize(
    ("path", "name", "value", "allowed"),
    [
        ("/api/v1/applications/", "state", "pending", "draft, submitted, approved"),
        ("/api/v1/loans/", "state", "late", "active, overdue"),
        ("/api/v1/products/", "kind", "mortgage", "short_term_working_capital, operating_loan"),
    ],
)
def test_a_refused_choice_lists_the_allowed_values(merchant, path, name, value, allowed):
    client = APIClient()
    client.force_authenticate(merchant.owner)

    message = client.get(path, {name: value}).json()["fields"][name][0]

    assert message.startswith(f"“{value}” is not one of the allowed values: ")
    assert allowed in message
