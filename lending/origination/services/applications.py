"""Every write of the application stage: apply, decide, offer, accept, withdraw, expire; and the officers' actions.

Each service follows one order: ``transaction.atomic()`` → lock the application (``select_for_update``) → who may
act → the transition (a wrong state is an ``ApplicationConflict``) → ``save()`` → one audit row per transition →
side effects (notices' emails, the contract task) on commit.

Errors: ``ApplicationError`` (a Django ``ValidationError``) is bad input or a condition the person can act on,
with field names where there is a field; ``ApplicationConflict`` means the application is not in a state that
allows the step (the API answers 409); ``PermissionDenied`` means this person may not do it.
"""

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import TransitionNotAllowed, can_proceed

from core.exceptions import StateConflict
from core.services.audit import audit_record
from core.services.notices import notify
from core.transactions import task_on_commit
from lending.catalogue.models import INDICATIVE_GRADE, RATE_QUANTUM, LoanProduct
from lending.catalogue.money import Quote
from lending.catalogue.services.products import (
    price_label,
    product_terms_snapshot,
    quote_for_product,
    quote_for_snapshot,
)
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.selectors.applications import (
    applications_in_progress_and_submitted_since,
    applications_in_progress_count,
    merchant_average_daily_sales,
    merchant_has_defaulted_loan,
    offers_expired_ids,
)
from lending.origination.services.lenders import lenders_open
from lending.servicing.models import Concession
from lending.servicing.services.concessions import (
    ConcessionConflict,
    concession_audit_data,
    concession_checker_check,
    concession_checkers_notify,
    concession_create,
    concession_locked,
    concession_maker_notify,
    concession_reason_checked,
)
from merchants.choices import KycState
from merchants.models import Merchant
from underwriting.choices import GRADES, Outcome
from underwriting.engine.decision import CreditRequest, Exposures
from underwriting.models import Decision
from underwriting.services.decisions import NoActiveScorecardError, decision_make

S = ApplicationState
DECIDE_PERMISSION = "lending.decide_application"
VELOCITY_WINDOW = datetime.timedelta(days=30)


class ApplicationError(ValidationError):
    """Bad input, or a condition the person can do something about; the message says what."""


class ApplicationConflict(StateConflict):
    """The application is not in a state that allows this step (or another request changed it first)."""


# Merchant actions.


def application_create(
    *,
    merchant: Merchant,
    product: LoanProduct,
    amount: Decimal | str,
    term: int | str | None,
    repayment_method: str | None = None,
    by: Any,
    submission_token: uuid.UUID | None = None,
) -> LoanApplication:
    """Make a draft application for the product, with terms the product allows.

    Invariants: only the merchant's owner applies, and only once its KYC is verified; the amount, term and method
    are within the product's terms (each refusal names the field and what is allowed); a merchant has at most
    ``settings.MAX_OPEN_APPLICATIONS`` applications in progress besides drafts. A ``submission_token`` already used
    by this merchant returns the application it made instead of a second one (a double click on the web form).
    """
    _require_owner(merchant, by)
    with transaction.atomic():
        # Lock the merchant: two applications made at the same moment are counted one after the other.
        locked_merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if submission_token is not None:
            existing = LoanApplication.objects.filter(merchant=locked_merchant, submission_token=submission_token)
            if (found := existing.first()) is not None:
                return found
        if locked_merchant.kyc_state != KycState.VERIFIED:
            raise ApplicationError(
                _("Your business must be verified (KYC) before it can apply for a loan; it is %(state)s.")
                % {"state": locked_merchant.get_kyc_state_display()},
                code="kyc_not_verified",
            )
        _require_not_frozen(locked_merchant)
        _require_room_for_another(locked_merchant)
        priced, sales = _quote_request(
            merchant=locked_merchant, product=product, amount=amount, term=term, method=repayment_method
        )
        application = LoanApplication(
            merchant=locked_merchant,
            product=product,
            amount=priced.amount,
            term=None if product.is_sales_share else int(term),
            repayment_method=priced.method.value,
            average_daily_sales=sales,
            submission_token=submission_token,
        )
        if submission_token is None:
            # No token, no unique clash to recover from: the savepoint below would cost two round trips for nothing.
            application.save()
        else:
            try:
                with transaction.atomic():
                    application.save()
            except IntegrityError:
                # The same token committed between our look and our insert: that application is the answer.
                return LoanApplication.objects.get(merchant=locked_merchant, submission_token=submission_token)
        audit_record(
            subject=application,
            action="application.create",
            by=by,
            to_state=application.state,
            data={"product": product.code, "amount": str(application.amount), "term": application.term},
        )
    return application


def application_apply(
    *,
    merchant: Merchant,
    product: LoanProduct,
    amount: Decimal | str,
    term: int | str | None,
    repayment_method: str | None = None,
    by: Any,
    submission_token: uuid.UUID | None = None,
) -> LoanApplication:
    """The web form's one step: make the application and submit it, all or nothing.

    Invariant: either a decided application exists afterwards or nothing was written (no stray draft when the
    decision fails). A ``submission_token`` seen before returns the application it made, as it is now.
    """
    with transaction.atomic():
        application = application_create(
            merchant=merchant,
            product=product,
            amount=amount,
            term=term,
            repayment_method=repayment_method,
            by=by,
            submission_token=submission_token,
        )
        if application.state != S.DRAFT:
            return application
        if submission_token is not None:
            # A draft found by its token may be older than this request: locked and checked as any submission.
            return _submit_locked(_lock(application), by=by, terms_checked=False)
        # The draft was made a moment ago in this transaction, under the merchant's lock, from these very terms: it
        # is submitted as it is, without locking and reading it again or quoting the same terms twice.
        return _submit_locked(application, by=by, terms_checked=True)


def application_submit(*, application: LoanApplication, by: Any) -> LoanApplication:
    """Submit a draft and decide it at once, with the engine, in the same transaction.

    Invariants: only the owner submits; the terms are checked against the product again (it may have changed
    since the draft); the application moves draft → submitted → approved | referred | declined and the decision
    it got is stored with it, or nothing moves at all; each of the two transitions has its audit row. An
    approval carries the offer: the terms snapshot at the decided grade, the schedule, the APR and the expiry.
    """
    with transaction.atomic():
        return _submit_locked(_lock(application), by=by, terms_checked=False)


def _submit_locked(locked: LoanApplication, *, by: Any, terms_checked: bool) -> LoanApplication:
    """``application_submit`` once the application and its merchant are locked, in the caller's transaction.

    ``terms_checked``: the terms were checked against the product in this transaction already (the draft was just
    made from them), so they are not quoted again.
    """
    _require_owner(locked.merchant, by)
    _require_state(locked, locked.submit, _("Only a draft can be submitted."))
    # ``_lock`` locked the merchant's row with the application's, so it is read once, not locked again.
    merchant = locked.merchant
    # The in-progress count serves both the limit here and the engine's request below (the merchant's row is
    # locked, so it cannot change in between); the applications of the last 30 days come in the same query.
    since = timezone.now() - VELOCITY_WINDOW
    in_progress, submitted_before = applications_in_progress_and_submitted_since(
        merchant=merchant, since=since, exclude_pk=locked.pk
    )
    _require_not_frozen(merchant)
    _require_room(in_progress)
    if not terms_checked:
        _quote_request(
            merchant=merchant,
            product=locked.product,
            amount=locked.amount,
            term=locked.term,
            method=locked.repayment_method,
            average_daily_sales=locked.average_daily_sales,
        )
    # Not saved here: ``_apply_decision`` saves the application once with its outcome, in this transaction, so
    # nobody can see the difference, and the "submit" audit row is written in its place all the same.
    _transition(locked, locked.submit, action="application.submit", by=by, save=False)
    try:
        decision = decision_make(
            merchant=merchant,
            # This application counts among the last 30 days' submissions: it was submitted just now.
            request=_credit_request(
                locked, in_progress=in_progress, submitted_last_30_days=submitted_before + 1, merchant=merchant
            ),
            exposures=application_exposures(application=locked),
            application_id=locked.pk,
        )
    except NoActiveScorecardError:
        # Nothing can be decided automatically: an officer decides instead, rather than the merchant waiting
        # for a scorecard it cannot see.
        decision = None
    _apply_decision(locked, decision)
    return locked


def application_accept(*, application: LoanApplication, by: Any) -> LoanApplication:
    """Accept the offer, which asks for the contract (made by a task after commit).

    Invariants: only the owner accepts, only an approved offer, and only before it expires: an offer found
    expired is expired there and then (and stays so) and the merchant is told it lapsed.
    """
    expired_at = None
    with transaction.atomic():
        locked = _lock(application)
        _require_owner(locked.merchant, by)
        if locked.state == S.APPROVED and _offer_lapsed(locked, timezone.now()):
            expired_at = locked.offer_expires_at
            _expire(locked)
        else:
            _require_state(locked, locked.accept, _("Only an approved offer can be accepted."))
            _transition(locked, locked.accept, action="application.accept", by=by)
            # Partner banks that may co-fund it are asked first; the contract waits for their answers, so that it
            # names every lender. The acceptance stands even if the queue is unreachable: the five-minute sweep
            # makes the contract.
            if not lenders_open(application=locked):
                task_on_commit("lending.origination.tasks.contract_prepare_task", locked.pk)
    if expired_at is not None:
        # Raised after the block so that the expiry commits: the offer is over whatever the merchant does next.
        raise ApplicationConflict(
            _("This offer expired on %(when)s; apply again for a new one.")
            % {"when": timezone.localtime(expired_at).strftime("%Y-%m-%d %H:%M")},
            code="offer_expired",
        )
    return locked


def application_withdraw(*, application: LoanApplication, by: Any, reason: str = "") -> LoanApplication:
    """Withdraw an application before it is contracted (draft, submitted, approved or accepted); owner only."""
    with transaction.atomic():
        locked = _lock(application)
        _require_owner(locked.merchant, by)
        _require_state(
            locked,
            locked.withdraw,
            _("An application can be withdrawn until its contract is ready; this one is %(state)s."),
        )
        _transition(locked, locked.withdraw, action="application.withdraw", by=by, reason=str(reason or "").strip())
    return locked


# The system.


def applications_expire_offers(*, now: datetime.datetime | None = None) -> int:
    """Expire every approved or accepted application whose offer lapsed before ``now``; returns how many.

    Invariant: idempotent and safe beside merchants acting at the same moment: the candidates are found in one
    query, then each is locked and checked again on its own, in its own transaction, so an offer accepted (and
    contracted) a moment ago is left alone and a second run changes nothing.
    """
    now = now or timezone.now()
    expired = 0
    for pk in offers_expired_ids(now=now):
        with transaction.atomic():
            locked = LoanApplication.objects.select_for_update().select_related("merchant", "product").get(pk=pk)
            if locked.state not in (S.APPROVED, S.ACCEPTED) or not _offer_lapsed(locked, now):
                continue
            # The expiry notices are written in the portal's language: no merchant request is active here.
            with translation.override(settings.LANGUAGE_CODE):
                _expire(locked)
            expired += 1
    return expired


def application_exposures(*, application: LoanApplication) -> Exposures:
    """How much more may be lent under each exposure limit before this application.

    The seam for the risk firewall: no exposure limits are configured yet, so every headroom is None (no cap) and
    the credit line follows the sales and the product's maximum alone. When limits exist, this is where the
    merchant, industry, region, partner and portfolio headroom are computed and handed to the engine.
    """
    return Exposures()


# Officers' actions (the back office calls these; each needs ``lending.decide_application``).


def application_approve(*, application: LoanApplication, by: Any, note: str = "") -> LoanApplication:
    """Approve a referred application on the terms asked, at the grade and price of its latest decision.

    Invariants: only an officer holding ``lending.decide_application``, never for a merchant the officer owns;
    only a referred application. With no automated decision (no scorecard was active), the standard grade prices it.
    """
    with transaction.atomic():
        locked = _lock(application)
        _require_officer(locked, by)
        _require_referred(locked)
        grade = _decided_grade(locked)
        snapshot = product_terms_snapshot(product=locked.product, grade=grade)
        priced = _price_offer(locked, snapshot=snapshot, amount=locked.amount, term=locked.term)
        locked.approve()
        _set_offer(
            locked,
            snapshot=snapshot,
            priced=priced,
            term=locked.term,
            grade=grade,
            offered_by=by,
            counter_offer=False,
        )
        _save_and_audit(locked, action="application.approve", by=by, from_state=S.REFERRED, reason=str(note or ""))
        _notify_offer(locked)
    return locked


def application_counter_offer(
    *,
    application: LoanApplication,
    by: Any,
    amount: Decimal | str,
    term: int | str | None,
    price: Decimal | str,
    repayment_method: str | None = None,
    note: str = "",
) -> LoanApplication:
    """Approve a referred application on other terms (amount, term, price, method), for the merchant to accept.

    Invariants: as ``application_approve``; the terms are within the product's bounds and the price within the
    product's price grid (from its lowest to its highest grade's price); every refusal names its field.

    A price below the grid's price for the application's grade is a concession: it needs a reason (``note``) and a
    second officer. The application then stays referred and the merchant is told nothing until another officer
    approves it (``counter_offer_approve``, which makes the offer) or rejects it (``counter_offer_reject``).
    """
    with transaction.atomic():
        locked = _lock(application)
        _require_officer(locked, by)
        _require_referred(locked)
        _require_no_pending_counter_offer(locked)
        product = locked.product
        grade = _decided_grade(locked)
        parsed_price = _clean_price(product, price)
        snapshot = product_terms_snapshot(product=product, grade=grade)
        if parsed_price is not None:
            snapshot["price"] = str(parsed_price.quantize(RATE_QUANTUM))
        try:
            priced = quote_for_snapshot(
                snapshot=snapshot,
                amount=amount,
                term=None if product.is_sales_share else term,
                repayment_method=repayment_method or locked.repayment_method,
                average_daily_sales=locked.average_daily_sales,
            )
        except ValidationError as exc:
            errors = exc.message_dict
            if parsed_price is None:
                errors.setdefault("price", []).extend(_price_errors(product))
            raise ApplicationError(errors) from exc
        if parsed_price is None:
            raise ApplicationError({"price": _price_errors(product)})
        offered_term = None if product.is_sales_share else int(term)
        grid_price = product.price_for(grade)
        if Decimal(snapshot["price"]) < grid_price:
            _counter_offer_concession(
                locked,
                by=by,
                snapshot=snapshot,
                priced=priced,
                term=offered_term,
                grade=grade,
                grid_price=grid_price,
                note=note,
            )
            return locked
        locked.approve()
        _set_offer(
            locked,
            snapshot=snapshot,
            priced=priced,
            term=offered_term,
            grade=grade,
            offered_by=by,
            counter_offer=True,
        )
        _save_and_audit(
            locked,
            action="application.counter_offer",
            by=by,
            from_state=S.REFERRED,
            reason=str(note or ""),
            data={
                **_counter_offer_terms(snapshot=snapshot, priced=priced, term=offered_term, asked=locked),
                "grade": grade,
                "grid_price": str(grid_price),
            },
        )
        _notify_offer(locked)
    return locked


def _counter_offer_terms(*, snapshot: dict, priced: Quote, term: int | None, asked: LoanApplication) -> dict:
    return {
        "amount": str(priced.amount),
        "term": term,
        "price": snapshot["price"],
        "repayment_method": priced.method.value,
        "asked": {"amount": str(asked.amount), "term": asked.term, "method": asked.repayment_method},
    }


def _counter_offer_concession(
    locked: LoanApplication,
    *,
    by: Any,
    snapshot: dict,
    priced: Quote,
    term: int | None,
    grade: str,
    grid_price: Decimal,
    note: object,
) -> Concession:
    """Keep a counter-offer below the grid for a second officer; the application does not move."""
    reason = concession_reason_checked(
        note,
        field="note",
        message=_("A price below the grid for grade %(grade)s needs a reason: the second officer reads it.")
        % {"grade": grade},
    )
    terms = {
        **_counter_offer_terms(snapshot=snapshot, priced=priced, term=term, asked=locked),
        "grade": grade,
        "grid_price": str(grid_price),
        "apr": f"{priced.apr:.2f}",
        "snapshot": snapshot,
    }
    try:
        concession = concession_create(
            kind=Concession.Kind.COUNTER_OFFER, application=locked, by=by, reason=reason, terms=terms
        )
    except ConcessionConflict as exc:
        raise ApplicationConflict(exc.message, code=exc.code) from None
    data = {key: value for key, value in terms.items() if key != "snapshot"}
    audit_record(
        subject=locked,
        action="application.counter_offer_request",
        by=by,
        from_state=locked.state,
        to_state=locked.state,
        reason=reason,
        data={"concession_id": concession.pk, **data},
    )
    concession_checkers_notify(
        concession=concession,
        title=_("A counter-offer below the price grid awaits your second approval"),
        body=_("%(maker)s offers %(merchant)s %(amount)s yuan at %(price)s, below grade %(grade)s's %(grid)s.")
        % {
            "maker": by,
            "merchant": locked.merchant,
            "amount": terms["amount"],
            "price": terms["price"],
            "grade": grade,
            "grid": terms["grid_price"],
        },
    )
    return concession


def _require_no_pending_counter_offer(application: LoanApplication) -> None:
    if application.concessions.filter(status=Concession.Status.PENDING).exists():
        raise ApplicationConflict(
            _("A counter-offer on this application awaits a second approval: it must be approved or rejected first."),
            code="concession_pending",
        )


def _locked_counter_offer(concession: Concession, by: Any) -> tuple[Concession, LoanApplication]:
    concession = concession_locked(concession)
    if concession.kind != Concession.Kind.COUNTER_OFFER:
        raise ApplicationConflict(_("This concession is not a counter-offer."))
    locked = _lock(LoanApplication(pk=concession.application_id))
    concession_checker_check(concession=concession, by=by, merchant_owner_id=locked.merchant.owner_id)
    return concession, locked


def counter_offer_approve(*, concession: Concession, by: Any) -> LoanApplication:
    """Second approval of a counter-offer below the grid: the offer is made as the first officer set it, and only
    now is the merchant told.

    Only an officer with ``lending.second_approve_concession`` other than the one who made it (``PermissionDenied``);
    the application must still be referred (``ApplicationConflict``). The offer is priced again from today on the
    stored terms; the officer who made it stays its ``offered_by``. One audit row, on the application.
    """
    with transaction.atomic():
        concession, locked = _locked_counter_offer(concession, by)
        _require_referred(locked)
        terms = concession.terms
        snapshot = terms["snapshot"]
        try:
            priced = quote_for_snapshot(
                snapshot=snapshot,
                amount=terms["amount"],
                term=terms["term"],
                repayment_method=terms["repayment_method"],
                average_daily_sales=locked.average_daily_sales,
            )
        except ValidationError as exc:
            raise ApplicationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        locked.approve()
        _set_offer(
            locked,
            snapshot=snapshot,
            priced=priced,
            term=terms["term"],
            grade=terms["grade"],
            offered_by=concession.requested_by,
            counter_offer=True,
        )
        concession.approve(by=by)
        concession.save()
        _save_and_audit(
            locked,
            action="application.counter_offer",
            by=by,
            from_state=S.REFERRED,
            reason=concession.reason,
            data={
                **concession_audit_data(concession),
                **_counter_offer_terms(snapshot=snapshot, priced=priced, term=terms["term"], asked=locked),
                "grade": terms["grade"],
                "grid_price": terms["grid_price"],
            },
        )
        concession_maker_notify(concession=concession)
        _notify_offer(locked)
    return locked


def counter_offer_reject(*, concession: Concession, by: Any, reason: str) -> LoanApplication:
    """The second officer refuses the counter-offer, saying why: the application stays referred for an officer to
    decide again, and the merchant hears nothing. One audit row, on the application."""
    reason = concession_reason_checked(reason, message=_("Say why the counter-offer is rejected: the officer is told."))
    with transaction.atomic():
        concession, locked = _locked_counter_offer(concession, by)
        concession.reject(by=by, note=reason)
        concession.save()
        audit_record(
            subject=locked,
            action="application.counter_offer_reject",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=reason,
            data=concession_audit_data(concession),
        )
        concession_maker_notify(concession=concession)
    return locked


def application_decline(*, application: LoanApplication, by: Any, reason: str) -> LoanApplication:
    """Decline a referred application; the reason is required, and it is what the merchant is shown."""
    reason = str(reason or "").strip()
    if not reason:
        raise ApplicationError({"reason": [_("Give the reason for declining: the merchant is shown it.")]})
    with transaction.atomic():
        locked = _lock(application)
        _require_officer(locked, by)
        _require_referred(locked)
        locked.decline()
        locked.decline_reasons = [
            {"code": "officer", "kind": "officer", "feature": "", "message_en": reason, "message_zh": reason},
            *_outcome_hints(locked, locked.decision),
        ]
        _save_and_audit(locked, action="application.decline", by=by, from_state=S.REFERRED, reason=reason)
        _notify_decided(locked)
    return locked


def application_request_documents(*, application: LoanApplication, by: Any, message: str) -> LoanApplication:
    """Ask the merchant for documents while its referred application is reviewed; the state does not change."""
    message = str(message or "").strip()
    if not message:
        raise ApplicationError({"message": [_("Say which documents are needed, and why.")]})
    with transaction.atomic():
        locked = _lock(application)
        _require_officer(locked, by)
        _require_referred(locked)
        locked.documents_requested = message
        locked.save(update_fields=["documents_requested", "updated_at"])
        audit_record(
            subject=locked,
            action="application.documents_requested",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=message,
        )
        notify(
            user_id=locked.merchant.owner_id,
            title=_("Documents needed for your application #%(id)s") % {"id": locked.pk},
            body=_("The officer reviewing your application asks for: %(message)s") % {"message": message},
            url=_application_url(locked),
        )
    return locked


# Helpers.


def max_open_applications() -> int:
    return int(settings.MAX_OPEN_APPLICATIONS)


def _lock(application: LoanApplication) -> LoanApplication:
    # The application's and its merchant's rows, not the product's: every submission of the same product would
    # otherwise queue behind the others' decisions. The product is read as it is at this moment, as any reader of
    # it would be (a product edit committed a moment later applies to the next application).
    return (
        LoanApplication.objects.select_for_update(of=("self", "merchant"))
        .select_related("merchant", "product")
        .get(pk=application.pk)
    )


def _require_owner(merchant: Merchant, by: Any) -> None:
    if not getattr(by, "is_authenticated", False) or merchant.owner_id != by.pk:
        raise PermissionDenied(_("Only the merchant's owner can do this."))


def _require_officer(application: LoanApplication, by: Any) -> None:
    if not getattr(by, "is_authenticated", False) or not by.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied(_("You do not have permission to decide loan applications."))
    if application.merchant.owner_id == by.pk:
        raise PermissionDenied(_("You cannot decide an application of a business you own."))


def _require_state(application: LoanApplication, method, message: str) -> None:
    """``message`` may name the current state as %(state)s."""
    if not can_proceed(method):
        raise ApplicationConflict(message % {"state": application.get_state_display()})


def _require_referred(application: LoanApplication) -> None:
    if application.state != S.REFERRED:
        raise ApplicationConflict(
            _("Only a referred application can be decided by an officer; this one is %(state)s.")
            % {"state": application.get_state_display()}
        )


def _require_not_frozen(merchant: Merchant) -> None:
    """An officer froze the merchant's further borrowing (``merchants.services.borrowing_freeze``): refused."""
    if merchant.borrowing_frozen:
        raise ApplicationError(
            _(
                "New loans are paused for your business while our team reviews your account; no application can be "
                "made or submitted until then. Please contact customer service."
            ),
            code="borrowing_frozen",
        )


def _require_room_for_another(merchant: Merchant, *, exclude_pk: int | None = None) -> None:
    _require_room(applications_in_progress_count(merchant=merchant, exclude_pk=exclude_pk))


def _require_room(in_progress: int) -> None:
    limit = max_open_applications()
    if in_progress >= limit:
        raise ApplicationError(
            _(
                "You already have an application in progress. Finish or withdraw it before applying again "
                "(at most %(limit)d at a time)."
            )
            % {"limit": limit},
            code="too_many_open_applications",
        )


def _quote_request(
    *,
    merchant: Merchant,
    product: LoanProduct,
    amount: Decimal | str,
    term: int | str | None,
    method: str | None,
    average_daily_sales: Decimal | None = None,
) -> tuple[Quote, Decimal | None]:
    """The terms checked against the product as it is now; for a sales-share advance, at the merchant's sales."""
    sales = None
    if product.is_sales_share:
        sales = average_daily_sales or merchant_average_daily_sales(merchant=merchant)
        if sales is None:
            raise ApplicationError(
                {
                    "product": [
                        _("A sales-share advance is repaid from your daily sales, and there are no sales on file yet.")
                    ]
                }
            )
    try:
        priced = quote_for_product(
            product=product,
            amount=amount,
            term=None if product.is_sales_share else term,
            repayment_method=method,
            average_daily_sales=sales,
        )
    except ValidationError as exc:
        raise ApplicationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
    return priced, sales


def _credit_request(
    application: LoanApplication, *, in_progress: int, submitted_last_30_days: int, merchant: Merchant
) -> CreditRequest:
    product = application.product
    return CreditRequest(
        amount=application.amount,
        term=application.term,
        term_unit=product.term_unit,
        product_code=product.code,
        amount_max=product.amount_max,
        prices_by_grade={grade: product.price_for(grade) for grade in GRADES if grade in product.prices},
        open_applications=in_progress,
        applications_last_30_days=submitted_last_30_days,
        has_defaulted_loan=merchant_has_defaulted_loan(merchant=merchant),
    )


def _apply_decision(application: LoanApplication, decision: Decision | None) -> None:
    """Move a submitted application to the decision's outcome, with its offer or its reasons."""
    application.decision = decision
    if decision is not None and decision.outcome == Outcome.APPROVE:
        grade = decision.grade
        snapshot = product_terms_snapshot(product=application.product, grade=grade)
        priced = _price_offer(application, snapshot=snapshot, amount=application.amount, term=application.term)
        application.approve()
        _set_offer(
            application,
            snapshot=snapshot,
            priced=priced,
            term=application.term,
            grade=grade,
            offered_by=None,
            counter_offer=False,
        )
        _save_and_audit(application, action="application.approve", by=None, from_state=S.SUBMITTED, decision=decision)
        _notify_offer(application)
    elif decision is None or decision.outcome == Outcome.REFER:
        application.refer()
        reason = "" if decision else "No scorecard is active: referred to an officer."
        _save_and_audit(
            application, action="application.refer", by=None, from_state=S.SUBMITTED, decision=decision, reason=reason
        )
        notify(
            user_id=application.merchant.owner_id,
            title=_("Your application #%(id)s is being reviewed") % {"id": application.pk},
            body=_(
                "An officer will review your application within one working day. We will tell you the outcome here "
                "and by email."
            ),
            url=_application_url(application),
        )
    else:
        application.decline()
        application.decline_reasons = [_reason(item) for item in decision.reasons] + _outcome_hints(
            application, decision
        )
        _save_and_audit(application, action="application.decline", by=None, from_state=S.SUBMITTED, decision=decision)
        _notify_decided(application)


def _price_offer(application: LoanApplication, *, snapshot: dict, amount: Decimal, term: int | None) -> Quote:
    try:
        return quote_for_snapshot(
            snapshot=snapshot,
            amount=amount,
            term=term,
            repayment_method=application.repayment_method,
            average_daily_sales=application.average_daily_sales,
        )
    except ValidationError as exc:
        raise ApplicationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc


def _set_offer(
    application: LoanApplication,
    *,
    snapshot: dict,
    priced: Quote,
    term: int | None,
    grade: str,
    offered_by: Any,
    counter_offer: bool,
) -> None:
    application.offer_amount = priced.amount
    application.offer_term = term
    application.offer_repayment_method = priced.method.value
    application.offer_grade = grade
    application.offer_price = Decimal(snapshot["price"])
    application.offer_apr = priced.apr
    application.offer_terms = snapshot
    application.offer_quote = priced.as_dict()
    application.offer_expires_at = timezone.now() + datetime.timedelta(days=int(snapshot["offer_validity_days"]))
    application.offered_by = offered_by if getattr(offered_by, "is_authenticated", False) else None
    application.is_counter_offer = counter_offer
    application.decline_reasons = []


def _decided_grade(application: LoanApplication) -> str:
    decision = application.decision
    return decision.grade if decision is not None and decision.grade in GRADES else INDICATIVE_GRADE


def _clean_price(product: LoanProduct, price: Decimal | str) -> Decimal | None:
    try:
        parsed = Decimal(str(price).strip())
    except (ArithmeticError, ValueError):
        return None
    grid = [product.price_for(grade) for grade in GRADES if grade in product.prices]
    if not parsed.is_finite() or not grid or not min(grid) <= parsed <= max(grid):
        return None
    return parsed


def _price_errors(product: LoanProduct) -> list[str]:
    grid = [product.price_for(grade) for grade in GRADES if grade in product.prices]
    return [
        _("Enter a price from %(low)s to %(high)s (%(low_label)s to %(high_label)s), the product's price grid.")
        % {
            "low": f"{min(grid).normalize():f}",
            "high": f"{max(grid).normalize():f}",
            "low_label": price_label(basis=product.price_basis, price=min(grid)),
            "high_label": price_label(basis=product.price_basis, price=max(grid)),
        }
    ]


def _offer_lapsed(application: LoanApplication, now: datetime.datetime) -> bool:
    return application.offer_expires_at is not None and application.offer_expires_at <= now


def _expire(application: LoanApplication) -> None:
    from_state = application.state
    application.expire()
    _save_and_audit(
        application,
        action="application.expire",
        by=None,
        from_state=from_state,
        reason="The offer lapsed on "
        f"{application.offer_expires_at.isoformat() if application.offer_expires_at else '-'} without being signed.",
    )
    notify(
        user_id=application.merchant.owner_id,
        title=_("Your loan offer #%(id)s has expired") % {"id": application.pk},
        body=_("The offer was valid until %(when)s. You can apply again at any time.")
        % {"when": timezone.localtime(application.offer_expires_at).strftime("%Y-%m-%d %H:%M")},
        url=_application_url(application),
    )


def _transition(
    application: LoanApplication, method, *, action: str, by: Any, reason: str = "", save: bool = True
) -> None:
    from_state = application.state
    try:
        method()
    except TransitionNotAllowed as exc:
        raise ApplicationConflict(
            _("This step is not possible while the application is %(state)s.")
            % {"state": application.get_state_display()}
        ) from exc
    _save_and_audit(application, action=action, by=by, from_state=from_state, reason=reason, save=save)


def _save_and_audit(
    application: LoanApplication,
    *,
    action: str,
    by: Any,
    from_state: str,
    reason: str = "",
    decision: Decision | None = None,
    data: dict | None = None,
    save: bool = True,
) -> None:
    if save:
        application.save()
    details = dict(data or {})
    if decision is not None:
        details.update(
            decision=decision.pk,
            grade=decision.grade,
            score=None if decision.score is None else str(decision.score),
            credit_line=str(decision.credit_line),
        )
    if application.offer_amount is not None and application.state == S.APPROVED:
        details.update(offer_amount=str(application.offer_amount), offer_apr=str(application.offer_apr))
    if not reason and decision is not None and decision.reasons:
        reason = "; ".join(item.get("message_en", "") for item in decision.reasons[:3])
    audit_record(
        subject=application,
        action=action,
        by=by,
        from_state=from_state,
        to_state=application.state,
        reason=reason,
        data=details,
    )


def _reason(item: dict) -> dict:
    return {
        "code": item.get("code", ""),
        "kind": item.get("kind", ""),
        "feature": item.get("feature", ""),
        "message_en": item.get("message_en", ""),
        "message_zh": item.get("message_zh", ""),
    }


def _bilingual(code: str, message, **params) -> dict:
    """A hint in both languages from one translatable English source."""
    texts = {}
    for key, language in (("message_en", "en"), ("message_zh", "zh-hans")):
        with translation.override(language):
            texts[key] = str(message) % params
    return {"code": code, "kind": "hint", "feature": "", **texts}


_HINT_SMALLER_AMOUNT = gettext_lazy(
    "Your sales support a credit line of ¥%(line)s. An application for that amount or less is decided automatically."
)
_HINT_SALES_HISTORY = gettext_lazy(
    "Your credit file is your trading on the platform: more months of steady sales, fewer refunds and more "
    "customers raise your score. You can apply again when your sales history has grown."
)


def _outcome_hints(application: LoanApplication, decision: Decision | None) -> list[dict]:
    """What would change the outcome, besides the reasons themselves (which say what each rule needs)."""
    hints = []
    if decision is not None and Decimal(0) < decision.credit_line < application.amount:
        hints.append(_bilingual("hint.smaller-amount", _HINT_SMALLER_AMOUNT, line=f"{decision.credit_line:,.2f}"))
    hints.append(_bilingual("hint.sales-history", _HINT_SALES_HISTORY))
    return hints


def _application_url(application: LoanApplication) -> str:
    return reverse("lending:application-detail", kwargs={"pk": application.pk})


def _notify_offer(application: LoanApplication) -> None:
    title = (
        _("A counter-offer for your application #%(id)s")
        if application.is_counter_offer
        else _("Your application #%(id)s is approved")
    )
    notify(
        user_id=application.merchant.owner_id,
        title=title % {"id": application.pk},
        body=_("Offer: %(amount)s yuan at an APR of %(apr)s %%. Accept it before %(when)s to receive your contract.")
        % {
            "amount": f"{application.offer_amount:,.2f}",
            "apr": f"{application.offer_apr:.2f}",
            "when": timezone.localtime(application.offer_expires_at).strftime("%Y-%m-%d %H:%M"),
        },
        url=_application_url(application),
    )


def _notify_decided(application: LoanApplication) -> None:
    notify(
        user_id=application.merchant.owner_id,
        title=_("Your application #%(id)s was not approved") % {"id": application.pk},
        body=_("See the reasons, and what would change the outcome, on the application's page."),
        url=_application_url(application),
    )


__all__ = [
    "DECIDE_PERMISSION",
    "ApplicationConflict",
    "ApplicationError",
    "application_accept",
    "application_apply",
    "application_approve",
    "application_counter_offer",
    "application_create",
    "application_decline",
    "application_exposures",
    "application_request_documents",
    "application_submit",
    "application_withdraw",
    "applications_expire_offers",
    "counter_offer_approve",
    "counter_offer_reject",
    "max_open_applications",
]
