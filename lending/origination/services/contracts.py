"""The loan contract: made from the accepted offer, rendered to PDF after commit, signed once by the merchant.

Invariants this module protects:

- A contract version prints exactly its ``terms``, fixed when the version is made; a change of terms makes a new
  version, and the versions not yet signed are superseded, so only the newest version can ever be signed (the
  database allows one open version per application).
- The PDF is rendered outside any transaction (``contract_render``, in a task) and stored with its SHA-256; a
  version that is ready or signed is never rendered again.
- Signing re-reads the stored PDF and refuses if its hash is not the one recorded when it was rendered, so what is
  signed is byte for byte what was prepared. A signed contract is never changed.
- Before signing the merchant proves it is still them (password, or a passkey through allauth); password attempts
  are limited per user.

Every state change follows the house order: ``transaction.atomic()`` → lock the application, then its contracts
(always in that order, so two services never wait on each other) → who may act → the change → ``save()`` → one
audit row per change → side effects (the render task, the funding task, notices' emails) on commit.

Errors: ``ContractError`` (a ``ValidationError``) is something the person can fix, with field names where there is
a field; ``ContractConflict`` (an ``ApplicationConflict``, 409 in the API) means the contract or the application is
not in a state that allows the step; ``PermissionDenied`` means this person may not do it.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from core.formatting import amount_plain, masked_account, percent
from core.services.audit import audit_record
from core.services.notices import notify
from core.transactions import task_on_commit
from lending.catalogue.models import (
    DayCountChoice,
    FeeTimingChoice,
    PrepaymentPolicy,
    ProductKind,
    RepaymentMethodChoice,
    TermUnitChoice,
)
from lending.catalogue.money import QuoteError, quote
from lending.catalogue.services.products import annual_cost_ceiling, price_label, quote_terms_from_snapshot
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.contract_pdf import contract_pdf
from lending.origination.services.lenders import PLATFORM
from merchants.choices import Province

logger = logging.getLogger(__name__)

S = ApplicationState
TERMS_FORMAT = 1
# The rule the contract states for dates: interest from the payout date (see lending.origination.services.booking).
INTEREST_FROM_PAYOUT = "payout_date"
VIEW_PERMISSION = "lending.view_contract"
REAUTHENTICATION_METHODS = ("password", "passkey")
# Password re-authentication before signing: after this many wrong passwords within the window, signing with a
# password is refused until the window has passed (a passkey still works).
PASSWORD_ATTEMPTS = 5
PASSWORD_WINDOW_SECONDS = 15 * 60

# The consent the merchant gives by signing, by ``settings.CONTRACT_CONSENT_VERSION``. It is legal wording, so it
# is versioned with the contract rather than translated: a new wording is a new version, added here.
CONSENT_TEXTS: dict[str, dict[str, str]] = {
    "2026-11": {
        "zh": (
            "本人已完整阅读上述借款合同（含还款计划、费用、逾期及提前还款条款），理解并同意其全部内容，"
            "自愿以电子签名方式签署本合同，电子签名与手写签名具有同等法律效力。"
        ),
        "en": (
            "I have read the whole loan contract above, including the repayment schedule, the fees and the terms "
            "on late and early repayment. I understand and agree to all of it, and I sign it electronically; my "
            "electronic signature has the same legal effect as a handwritten one."
        ),
    },
}


class ContractError(ValidationError):
    """Bad input, or a condition the person can do something about; the message says what."""


class ContractConflict(ApplicationConflict):
    """The contract or its application is not in a state that allows this step (the API answers 409)."""


class SignerLockedOut(ContractError):  # noqa: N818 - a refusal named for what it is, like ContractConflict
    """Too many wrong passwords: signing with a password waits until ``retry_after`` seconds have passed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__({"password": [message]}, code="throttled")
        self.retry_after = retry_after


def consent_text(*, version: str | None = None, language: str | None = None) -> str:
    """The consent wording of ``version`` (the one in force by default) in Chinese or English."""
    version = version or settings.CONTRACT_CONSENT_VERSION
    texts = CONSENT_TEXTS.get(version)
    if texts is None:
        raise ImproperlyConfigured(
            f"CONTRACT_CONSENT_VERSION={version!r} has no wording in "
            "lending.origination.services.contracts.CONSENT_TEXTS."
        )
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    return texts["zh"] if language.startswith("zh") else texts["en"]


# Reads.


def contract_newest(*, application: LoanApplication) -> Contract | None:
    """The application's newest contract version, whatever its status."""
    return Contract.objects.filter(application=application).order_by("-version").first()


def contract_for_viewer(*, application_id: int, user: Any, version: int | None = None) -> Contract | None:
    """The contract whose PDF ``user`` may read: its merchant's owner, or staff allowed to view contracts.

    The newest rendered version by default, or ``version``. Anyone else gets None, so that the view answers 404
    and an application's existence is not revealed.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    contracts = Contract.objects.select_related("application__merchant").filter(application_id=application_id)
    is_staff_viewer = user.is_staff and user.has_perm(VIEW_PERMISSION)
    if not is_staff_viewer:
        contracts = contracts.filter(application__merchant__owner=user)
    contracts = contracts.exclude(pdf="")
    if version is not None:
        return contracts.filter(version=version).first()
    return contracts.exclude(status=Contract.Status.SUPERSEDED).order_by("-version").first()


def contract_pdf_bytes(*, contract: Contract) -> bytes:
    """The stored PDF; ``FileNotFoundError`` when the file is gone."""
    if not contract.pdf:
        raise FileNotFoundError(f"Contract {contract.pk} has no PDF yet")
    with contract.pdf.storage.open(contract.pdf.name, "rb") as stored:
        return stored.read()


# Making a version.


def contract_create_for(*, application_id: int) -> Contract:
    """Make the next contract version of an accepted application and move it to contracted (the system acts).

    The terms are everything the contract prints, taken from the offer the merchant accepted; earlier versions not
    yet signed are superseded. The PDF is rendered by ``contract_render_task`` after the commit.
    """
    with transaction.atomic():
        application = (
            LoanApplication.objects.select_for_update(of=("self",))
            .select_related("merchant", "product")
            .get(pk=application_id)
        )
        if not can_proceed(application.attach_contract):
            raise ContractConflict(
                _("A contract is made for an accepted offer; this application is %(state)s.")
                % {"state": application.get_state_display()}
            )
        if not application.offer_quote.get("schedule"):
            raise ContractError(_("The offer has no repayment schedule, so no contract can be made from it."))

        open_versions = Contract.objects.select_for_update().filter(
            application=application, status__in=[Contract.Status.RENDERING, Contract.Status.READY]
        )
        for old in open_versions:
            from_status = old.status
            old.status = Contract.Status.SUPERSEDED
            old.save(update_fields=["status"])
            audit_record(
                subject=old,
                action="contract.supersede",
                from_state=from_status,
                to_state=old.status,
                reason="The terms changed; a new version replaces this one.",
            )

        latest = Contract.objects.filter(application=application).order_by("-version").first()
        contract = Contract.objects.create(
            application=application,
            version=(latest.version + 1) if latest else 1,
            terms=contract_terms_for(application=application),
            consent_text_version=settings.CONTRACT_CONSENT_VERSION,
        )
        audit_record(
            subject=contract,
            action="contract.create",
            to_state=contract.status,
            data={"application": application.pk, "version": contract.version},
        )

        from_state = application.state
        application.attach_contract()
        application.save()
        audit_record(
            subject=application,
            action="application.attach_contract",
            from_state=from_state,
            to_state=application.state,
            data={"contract": contract.pk, "version": contract.version},
        )
        task_on_commit("lending.origination.tasks.contract_render_task", contract.pk)
    return contract


def contract_prepare(*, application_id: int) -> Contract | None:
    """What ``contract_prepare_task`` runs: make the contract, or finish one a crashed worker left half-done.

    Safe to run again: an application already contracted gets its newest version rendered if it is still being
    prepared; an application withdrawn or expired meanwhile gets nothing (None).
    """
    try:
        return contract_create_for(application_id=application_id)
    except ContractConflict:
        application = LoanApplication.objects.get(pk=application_id)
        if application.state != S.CONTRACTED:
            logger.info("No contract for application %s: it is %s.", application_id, application.state)
            return None
    contract = contract_newest(application=application)
    if contract is not None and contract.status == Contract.Status.RENDERING:
        return contract_render(contract_id=contract.pk)
    return contract


def contract_terms_for(*, application: LoanApplication) -> dict:
    """Everything the contract prints, as JSON, from the offer the merchant accepted and the parties' details.

    Labels are stored in both languages beside each code, so the version reads the same however the portal's
    wording or translations change later.
    """
    merchant = application.merchant
    offer = application.offer_terms
    quote = application.offer_quote
    method = application.offer_repayment_method or quote.get("method") or application.repayment_method
    price = application.offer_price if application.offer_price is not None else Decimal(offer["price"])
    apr = application.offer_apr if application.offer_apr is not None else Decimal(quote["apr"])
    fees = offer.get("fees", {})
    late_fee = offer.get("late_fee", {})
    prepayment = offer.get("prepayment", {})
    product = offer.get("product", {})
    sales_share = None
    if quote.get("sales_share"):
        sales_share = {**quote["sales_share"], **(offer.get("sales_share") or {})}
        sales_share["share_percent"] = percent(Decimal(sales_share["share_rate"]))
        sales_share.pop("windows", None)  # the schedule has one line per window already

    return {
        "format": TERMS_FORMAT,
        "platform": {
            "legal_name": settings.PLATFORM_LEGAL_NAME,
            "registered_address": settings.LENDER_REGISTERED_ADDRESS,
            "registration_number": settings.LENDER_REGISTRATION_NUMBER,
        },
        "dispute_venue": settings.DISPUTE_RESOLUTION_VENUE,
        "contract_date": timezone.localdate().isoformat(),
        "annual_cost_ceiling": f"{annual_cost_ceiling():.2f}",
        # Co-lending partner banks and their shares, settled before the contract is made (services.lenders):
        # [{"code", "legal_name_zh", "legal_name_en", "share", "share_percent"}]; the platform lends the rest.
        "funding_partners": [lender for lender in application.lenders if lender["code"] != PLATFORM],
        "platform_share_percent": next(
            (
                lender["share_percent"]
                for lender in application.lenders
                if lender["code"] == PLATFORM and len(application.lenders) > 1
            ),
            "",
        ),
        "borrower": {
            "legal_name": merchant.legal_name,
            "credit_code": merchant.credit_code,
            "province": choice_labels(Province, merchant.province),
            "city": merchant.city,
            "legal_rep_name": merchant.legal_rep_name,
            "legal_rep_id_masked": merchant.masked_id_number,
            "settlement_bank_name": merchant.settlement_bank_name,
            "settlement_account_name": merchant.settlement_account_name,
            "settlement_account_masked": masked_account(merchant.settlement_account_number),
        },
        "product": {
            "code": product.get("code", application.product.code),
            "name_zh": product.get("name_zh", application.product.name_zh),
            "name_en": product.get("name_en", application.product.name_en),
            "kind": choice_labels(ProductKind, product.get("kind", application.product.kind)),
        },
        "currency": offer.get("currency", "CNY"),
        "amount": amount_plain(application.offer_amount if application.offer_amount is not None else quote["amount"]),
        "term": application.offer_term,
        "term_unit": choice_labels(TermUnitChoice, offer.get("term_unit", application.product.term_unit)),
        "repayment_method": choice_labels(RepaymentMethodChoice, method),
        "grade": application.offer_grade,
        "price": {
            "value": str(price),
            "basis": offer.get("price_basis", ""),
            **_both(lambda: price_label(basis=offer["price_basis"], price=price)),
        },
        "apr": f"{Decimal(apr):.2f}",
        "day_count": choice_labels(DayCountChoice, offer.get("day_count") or DayCountChoice.ACTUAL_365),
        "days_in_year": 360 if offer.get("day_count") == DayCountChoice.ACTUAL_360 else 365,
        "fees": {
            "origination_rate": fees.get("origination_rate", "0"),
            "origination_percent": percent(Decimal(fees.get("origination_rate", "0"))),
            "origination_fixed": fees.get("origination_fixed", "0.00"),
            "origination_timing": choice_labels(
                FeeTimingChoice, fees.get("origination_timing", FeeTimingChoice.DEDUCTED)
            ),
            "origination_fee": quote.get("origination_fee", "0.00"),
            # A borrower-paid credit-insurance premium, withheld from the payout (offers made before have none).
            "insurance_premium": quote.get("insurance_premium", "0.00"),
            "insurance_premium_percent": percent(Decimal(fees.get("insurance_premium_rate", "0"))),
        },
        "totals": {
            name: quote[name]
            for name in (
                "principal",
                "net_disbursement",
                "total_interest",
                "total_fees",
                "total_repayable",
                "total_cost_of_credit",
            )
        },
        "schedule": list(quote["schedule"]),
        "late_fee": {
            "daily_rate": late_fee.get("daily_rate", "0"),
            "daily_percent": percent(Decimal(late_fee.get("daily_rate", "0"))),
            "fixed": late_fee.get("fixed", "0.00"),
            "annual_cap_percent": percent(Decimal(late_fee["annual_cap"])) if late_fee.get("annual_cap") else "",
            # Offers made before terms carried the cap are serviced at the platform's ceiling (see the daily jobs).
            "cost_cap_percent": percent(Decimal(late_fee.get("cost_cap") or annual_cost_ceiling() / 100)),
        },
        "grace_days": offer.get("grace_days", 0),
        "default_after_days_past_due": offer.get("default_after_days_past_due"),
        # Offers made before products carried the rule have none in the contract (the servicing default applies).
        "deferral": offer.get("deferral") or {},
        "prepayment": {
            "policy": choice_labels(PrepaymentPolicy, prepayment.get("policy", PrepaymentPolicy.ALLOWED)),
            "fee_rate": prepayment.get("fee_rate", "0"),
            "fee_percent": percent(Decimal(prepayment.get("fee_rate", "0"))),
        },
        "sales_share": sales_share,
        # How the dates are set (``lending.origination.services.booking``): interest runs from the payout date, the
        # due dates count from it, the final schedule follows with the payout notice and never costs more than this.
        "interest_start": {"rule": INTEREST_FROM_PAYOUT, "schedule_assumes": _schedule_start(application)},
        "offer": {
            "is_counter_offer": application.is_counter_offer,
            "accepted_at": application.accepted_at.isoformat() if application.accepted_at else None,
        },
        "consent_text_version": settings.CONTRACT_CONSENT_VERSION,
        "consent_text": {
            "zh": consent_text(language="zh-hans"),
            "en": consent_text(language="en"),
        },
    }


def _schedule_start(application: LoanApplication) -> str | None:
    """The payout date the offer's schedule assumes (the day it was priced), or None when that cannot be shown.

    The offer was priced on the day of its decision; that day is printed only once pricing the offer again from it
    gives the very schedule the contract prints, so the contract never names a day its schedule does not count from.
    """
    if application.decided_at is None or not application.offer_quote.get("schedule"):
        return None
    priced_on = timezone.localdate(application.decided_at)
    offer = application.offer_terms
    price = application.offer_price if application.offer_price is not None else offer.get("price")
    try:
        again = quote(
            quote_terms_from_snapshot(
                {**offer, "price": str(price)},
                amount=application.offer_amount,
                term=application.offer_term,
                start_date=priced_on,
                repayment_method=application.offer_repayment_method or application.repayment_method,
                average_daily_sales=application.average_daily_sales,
            )
        )
    except (QuoteError, KeyError, TypeError):
        return None
    if again.as_dict()["schedule"] != application.offer_quote["schedule"]:
        return None
    return priced_on.isoformat()


# Rendering.


def contract_render(*, contract_id: int) -> Contract:
    """Render a version being prepared to PDF, store it with its SHA-256 and make it ready to sign.

    Runs in a task, outside any transaction: WeasyPrint and the file storage hold no row lock. Only a version still
    being prepared is rendered; a ready or signed one keeps its file and hash, so running this twice changes
    nothing. If two renders race, the first to lock the row wins and the other deletes its file.
    """
    contract = Contract.objects.get(pk=contract_id)
    if contract.status != Contract.Status.RENDERING:
        return contract
    rendered = contract_pdf(contract=contract)
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    storage = contract.pdf.storage
    name = storage.save(
        contract.pdf.field.generate_filename(contract, f"contract-{contract.document_id}-v{contract.version}.pdf"),
        ContentFile(rendered.pdf),
    )
    try:
        with transaction.atomic():
            locked = Contract.objects.select_for_update().select_related("application__merchant").get(pk=contract_id)
            if locked.status != Contract.Status.RENDERING:
                stale = True
            else:
                stale = False
                locked.pdf.name = name
                locked.sha256 = digest
                locked.rendered_at = timezone.now()
                locked.status = Contract.Status.READY
                locked.save(update_fields=["pdf", "sha256", "rendered_at", "status"])
                audit_record(
                    subject=locked,
                    action="contract.render",
                    from_state=Contract.Status.RENDERING,
                    to_state=locked.status,
                    data={"sha256": digest, "pages": rendered.page_count, "bytes": len(rendered.pdf)},
                )
                application = locked.application
                notify(
                    user_id=application.merchant.owner_id,
                    title=_("Your contract is ready to sign"),
                    body=_(
                        "The loan contract for application #%(id)s (%(amount)s yuan) is ready. Read it, confirm it is "
                        "you with your password or a passkey, and sign it to receive the money."
                    )
                    % {"id": application.pk, "amount": f"{Decimal(locked.terms['amount']):,.2f}"},
                    url=reverse("lending:contract-sign", kwargs={"pk": application.pk}),
                )
    except BaseException:
        storage.delete(name)
        raise
    if stale:
        storage.delete(name)
    return locked


# Signing.


def signer_password_check(*, user: Any, password: str) -> None:
    """Check the password a signer typed to confirm it is them; raise a ``password`` field error if it is wrong.

    After ``PASSWORD_ATTEMPTS`` wrong passwords within ``PASSWORD_WINDOW_SECONDS`` every attempt is refused
    (``SignerLockedOut``) until the window has passed, right or wrong, so a stolen session cannot guess on.
    """
    count_key, since_key = _password_failure_keys(user)
    failures = cache.get(count_key, 0)
    if failures >= PASSWORD_ATTEMPTS:
        raise _locked_out(since_key)
    if password and user.check_password(password):
        cache.delete_many([count_key, since_key])
        return
    # add() then incr(): atomic in Redis, so concurrent wrong guesses are all counted.
    cache.add(since_key, time.time(), timeout=PASSWORD_WINDOW_SECONDS)
    cache.add(count_key, 0, timeout=PASSWORD_WINDOW_SECONDS)
    try:
        failures = cache.incr(count_key)
    except ValueError:  # the key expired between add() and incr()
        cache.set(count_key, 1, timeout=PASSWORD_WINDOW_SECONDS)
        failures = 1
    if failures >= PASSWORD_ATTEMPTS:
        raise _locked_out(since_key)
    left = PASSWORD_ATTEMPTS - failures
    raise ContractError(
        {
            "password": [
                _("The password is not correct. %(left)d attempt(s) left before signing with a password is blocked.")
                % {"left": left}
                if password
                else _("Enter your password to confirm it is you.")
            ]
        },
        code="wrong_password",
    )


def _password_failure_keys(user: Any) -> tuple[str, str]:
    return f"lending:contract-sign:password-failures:{user.pk}", f"lending:contract-sign:password-since:{user.pk}"


def _locked_out(since_key: str) -> SignerLockedOut:
    since = cache.get(since_key) or time.time()
    retry_after = max(1, int(PASSWORD_WINDOW_SECONDS - (time.time() - since)) + 1)
    minutes = (retry_after + 59) // 60
    return SignerLockedOut(
        _(
            "Too many wrong passwords. For your security, signing with a password is blocked for %(minutes)d "
            "minute(s); try again later, or confirm with a passkey."
        )
        % {"minutes": minutes},
        retry_after=retry_after,
    )


def contract_sign(
    *,
    contract: Contract,
    by: Any,
    ip: str | None,
    user_agent: str,
    consent: bool,
    reauthenticated_with: str,
) -> Contract:
    """The merchant's owner signs the newest contract version; the application moves from contracted to signed.

    Refused unless: the signer owns the merchant, has just re-authenticated (``reauthenticated_with`` says how),
    ticked the consent, the version is ready and the newest, and the stored PDF still has the hash recorded when it
    was rendered. Records who, when, from where, the document's hash and the consent version; the funding task is
    queued after the commit.
    """
    if reauthenticated_with not in REAUTHENTICATION_METHODS:
        raise PermissionDenied(_("Confirm it is you, with your password or a passkey, before signing."))
    integrity_failure: dict | None = None
    with transaction.atomic():
        application = (
            LoanApplication.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .get(pk=contract.application_id)
        )
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if by is None or by.pk != application.merchant.owner_id:
            raise PermissionDenied(_("Only the merchant's owner can sign its loan contract."))
        _require_signable(locked, application)
        if not consent:
            raise ContractError({"consent": [_("You must agree to the contract terms")]}, code="consent_required")

        try:
            stored_hash = hashlib.sha256(contract_pdf_bytes(contract=locked)).hexdigest()
        except FileNotFoundError:
            stored_hash = ""
        if stored_hash != locked.sha256:
            integrity_failure = {"expected": locked.sha256, "found": stored_hash or None}
        else:
            locked.status = Contract.Status.SIGNED
            locked.signer = by
            locked.signed_at = timezone.now()
            locked.signer_ip = ip or None
            locked.signer_user_agent = (user_agent or "")[: Contract._meta.get_field("signer_user_agent").max_length]
            locked.signed_sha256 = stored_hash
            # The wording the signer was shown and agreed to; the version printed in the PDF stays in the terms.
            locked.consent_text_version = settings.CONTRACT_CONSENT_VERSION
            locked.reauthenticated_with = reauthenticated_with
            locked.save()
            audit_record(
                subject=locked,
                action="contract.sign",
                by=by,
                from_state=Contract.Status.READY,
                to_state=locked.status,
                data={
                    "sha256": stored_hash,
                    "consent_text_version": locked.consent_text_version,
                    "reauthenticated_with": reauthenticated_with,
                    "ip": locked.signer_ip,
                },
            )
            from_state = application.state
            application.sign()
            application.save()
            audit_record(
                subject=application,
                action="application.sign",
                by=by,
                from_state=from_state,
                to_state=application.state,
                data={"contract": locked.pk, "version": locked.version, "sha256": stored_hash},
            )
            task_on_commit("lending.origination.tasks.application_fund_task", application.pk)
    if integrity_failure is not None:
        # Nothing was changed above; the refusal itself is recorded, since it means the stored file was altered.
        logger.error("Contract %s failed its integrity check before signing: %s", locked.pk, integrity_failure)
        audit_record(
            subject=locked,
            action="contract.integrity_failed",
            by=by,
            reason="The stored PDF's SHA-256 is not the one recorded when it was rendered.",
            data=integrity_failure,
        )
        raise ContractConflict(
            _(
                "This contract's document does not match the one prepared for you, so it cannot be signed. "
                "Our staff have been alerted; please contact us."
            ),
            code="integrity_failed",
        )
    return locked


def _require_signable(contract: Contract, application: LoanApplication) -> None:
    if contract.status == Contract.Status.SIGNED:
        raise ContractConflict(_("This contract is already signed."), code="already_signed")
    newest = Contract.objects.filter(application=application).order_by("-version").values_list("pk", flat=True)[0]
    if contract.status == Contract.Status.SUPERSEDED or contract.pk != newest:
        raise ContractConflict(
            _("This contract version was replaced by a newer one. Read and sign the newest version."),
            code="superseded",
        )
    if contract.status != Contract.Status.READY:
        raise ContractConflict(_("Your contract is being prepared. Try again in a moment."), code="not_ready")
    if not can_proceed(application.sign):
        raise ContractConflict(
            _("The contract cannot be signed while the application is %(state)s.")
            % {"state": application.get_state_display()}
        )


# Helpers.


def _both(label: Callable[[], Any]) -> dict[str, str]:
    texts = {}
    for key, language in (("zh", "zh-hans"), ("en", "en")):
        with translation.override(language):
            texts[key] = str(label())
    return texts


def choice_labels(choices, code: str) -> dict[str, str]:
    """A choice's code with its label in both languages ({"code", "zh", "en"}); an unknown code labels itself."""
    if code in choices.values:
        return {"code": code, **_both(lambda: choices(code).label)}
    return {"code": code or "", "zh": code or "", "en": code or ""}


__all__ = [
    "CONSENT_TEXTS",
    "PASSWORD_ATTEMPTS",
    "PASSWORD_WINDOW_SECONDS",
    "VIEW_PERMISSION",
    "ContractConflict",
    "ContractError",
    "SignerLockedOut",
    "choice_labels",
    "consent_text",
    "contract_create_for",
    "contract_for_viewer",
    "contract_newest",
    "contract_pdf_bytes",
    "contract_prepare",
    "contract_render",
    "contract_sign",
    "contract_terms_for",
    "signer_password_check",
]
