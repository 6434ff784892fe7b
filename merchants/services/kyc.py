"""The merchant's profile and its KYC review: every change to them goes through here.

Each transition follows one order: lock the merchant row, check the state, check who is acting,
check the conditions, run the model's transition, save, write one audit row, and send the email
only after the transaction has committed.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from accounts.models import User
from accounts.roles import Role
from core.services.audit import audit_record
from core.services.notices import notify
from merchants.choices import KycState
from merchants.models import PROFILE_FIELDS, Merchant
from merchants.selectors.merchants import merchant_kyc_checklist
from merchants.validators import normalise_code

EDITABLE_STATES = (KycState.DRAFT, KycState.REJECTED)
# Identifiers people type with spaces, dashes or in lower case; stored in one canonical form.
_CODE_FIELDS = {"credit_code", "legal_rep_id_number", "mobile"}
_NON_PROFILE_FIELDS = {field.name for field in Merchant._meta.concrete_fields if field.name not in PROFILE_FIELDS}


class KycError(ValidationError):
    """A KYC step was refused for a reason the merchant or the officer can act on; the message says which."""


def merchant_get_or_create(*, owner: User) -> Merchant:
    """Return the merchant owner's Merchant, creating it in draft on the first visit.

    Only users with the merchant-owner role have a Merchant; an officer never gets one by accident.
    """
    if not owner.has_role(Role.MERCHANT_OWNER):
        raise PermissionDenied(_("Only merchant owners have a business profile."))
    existing = Merchant.objects.filter(owner=owner).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(owner=owner)
            audit_record(subject=merchant, action="merchant.create", by=owner, to_state=merchant.kyc_state)
    except IntegrityError:
        # Two first requests raced; the other one created it.
        return Merchant.objects.get(owner=owner)
    return merchant


def merchant_update_profile(*, merchant: Merchant, by: User, data: dict[str, Any]) -> Merchant:
    """Change profile fields while the KYC is in draft or rejected; a profile under review or verified is locked.

    The whole profile must pass the model's validators after the change. The audit row names the
    changed fields but never records their values, so identity numbers stay out of the log.
    """
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise ValidationError(
            _("These fields cannot be changed here: %(fields)s."), code="unknown", params={"fields": ", ".join(unknown)}
        )
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if by.pk != locked.owner_id:
            raise PermissionDenied(_("Only the merchant's owner can change its profile."))
        if locked.kyc_state not in EDITABLE_STATES:
            raise KycError(
                _("The profile cannot be changed while its KYC is %(state)s."),
                code="locked",
                params={"state": locked.get_kyc_state_display()},
            )

        changed = []
        for name, value in data.items():
            value = _normalised(name, value)
            if getattr(locked, name) != value:
                setattr(locked, name, value)
                changed.append(name)
        if not changed:
            return locked

        errors: dict[str, list[ValidationError]] = {}
        try:
            # Only the profile's fields: cleaning assigns every field it checks, and the protected KYC state
            # refuses assignment. The credit code's uniqueness is checked below with a message a merchant
            # understands.
            locked.full_clean(exclude=_NON_PROFILE_FIELDS, validate_constraints=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        code_taken = ValidationError(
            _("Another merchant has already registered this credit code. Check it against your licence."),
            code="credit_code_taken",
        )
        if (
            "credit_code" in changed
            and locked.credit_code
            and Merchant.objects.filter(credit_code=locked.credit_code).exclude(pk=locked.pk).exists()
        ):
            errors.setdefault("credit_code", []).append(code_taken)
        if errors:
            raise ValidationError(errors)
        locked.validate_constraints(exclude={"credit_code"})

        try:
            with transaction.atomic():
                locked.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            # Another merchant registered the same code between the check above and this write.
            raise ValidationError({"credit_code": [code_taken]}) from exc
        audit_record(subject=locked, action="profile.update", by=by, data={"fields": changed})
    return locked


def _normalised(name: str, value: Any) -> Any:
    if value is None:
        return None if name == "founded_on" else ""
    if isinstance(value, str):
        return normalise_code(value) if name in _CODE_FIELDS else value.strip()
    return value


def kyc_submit(*, merchant: Merchant, by: User) -> Merchant:
    """Send a complete profile for review: only its owner can, from draft or rejected.

    Complete means every profile field is filled in and the licence and both sides of the ID card are uploaded.
    """
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if by.pk != locked.owner_id:
            raise PermissionDenied(_("Only the merchant's owner can submit its KYC."))
        _require_state(locked, locked.submit_kyc, _("KYC can be submitted from draft or rejected; it is %(state)s."))
        checklist = merchant_kyc_checklist(merchant=locked)
        if not checklist.complete:
            raise _incomplete_error(checklist.missing_fields, checklist.missing_documents)
        _require_permission(locked.submit_kyc, by)
        return _transition(locked, locked.submit_kyc, action="kyc.submit", by=by)


def _incomplete_error(missing_fields: list[str], missing_documents: list[str]) -> KycError:
    parts = []
    if missing_fields:
        parts.append(_("fill in %(fields)s") % {"fields": ", ".join(missing_fields)})
    if missing_documents:
        parts.append(_("upload %(documents)s") % {"documents": ", ".join(missing_documents)})
    error = KycError(
        _("Before submitting, %(todo)s.") % {"todo": _("; and ").join(parts)},
        code="incomplete",
    )
    error.missing_fields = missing_fields
    error.missing_documents = missing_documents
    return error


def kyc_verify(*, merchant: Merchant, by: User, note: str = "") -> Merchant:
    """Accept a submitted KYC; needs the review permission, and nobody reviews their own merchant. The officer's
    ``note`` is kept in the audit row."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        _require_state(locked, locked.verify_kyc, _("Only a submitted KYC can be verified; this one is %(state)s."))
        _require_reviewer(locked, locked.verify_kyc, by)
        return _transition(
            locked, partial(locked.verify_kyc, by=by), action="kyc.verify", by=by, reason=note, tell_owner=True
        )


def kyc_reject(*, merchant: Merchant, by: User, reason: str) -> Merchant:
    """Send a submitted KYC back to the merchant with a reason it will read; the reason is required."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        _require_state(locked, locked.reject_kyc, _("Only a submitted KYC can be rejected; this one is %(state)s."))
        _require_reviewer(locked, locked.reject_kyc, by)
        reason = _required_reason(reason, _("A reason is required to reject a KYC; the merchant will read it."))
        return _transition(
            locked,
            partial(locked.reject_kyc, by=by, reason=reason),
            action="kyc.reject",
            by=by,
            reason=reason,
            tell_owner=True,
        )


def merchant_suspend(*, merchant: Merchant, by: User, reason: str) -> Merchant:
    """Stop a verified merchant from borrowing; needs the suspend permission and a reason."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        _require_state(locked, locked.suspend, _("Only a verified merchant can be suspended; this one is %(state)s."))
        _require_reviewer(locked, locked.suspend, by)
        reason = _required_reason(reason, _("A reason is required to suspend a merchant."))
        return _transition(locked, locked.suspend, action="merchant.suspend", by=by, reason=reason, tell_owner=True)


def merchant_reinstate(*, merchant: Merchant, by: User, reason: str) -> Merchant:
    """Lift a suspension; needs the suspend permission and a reason."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        _require_state(
            locked, locked.reinstate, _("Only a suspended merchant can be reinstated; this one is %(state)s.")
        )
        _require_reviewer(locked, locked.reinstate, by)
        reason = _required_reason(reason, _("A reason is required to reinstate a merchant."))
        return _transition(locked, locked.reinstate, action="merchant.reinstate", by=by, reason=reason, tell_owner=True)


def _require_state(merchant: Merchant, method: Callable, message: str) -> None:
    if not can_proceed(method, check_conditions=False):
        raise KycError(message, code="wrong_state", params={"state": merchant.get_kyc_state_display()})


def _require_permission(method: Callable, by: User) -> None:
    if not has_transition_perm(method, by):
        raise PermissionDenied(_("You do not have permission to do this."))


def _require_reviewer(merchant: Merchant, method: Callable, by: User) -> None:
    _require_permission(method, by)
    if by.pk == merchant.owner_id:
        raise PermissionDenied(_("Nobody can review their own merchant."))


def _required_reason(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise KycError(message, code="reason_required")
    return reason


def _transition(
    merchant: Merchant, method: Callable, *, action: str, by: User, reason: str = "", tell_owner: bool = False
) -> Merchant:
    from_state = merchant.kyc_state
    try:
        method()
    except TransitionNotAllowed as exc:
        # The checks above make this unreachable unless the model's rules changed; say so plainly anyway.
        raise KycError(
            _("This step is not possible while the KYC is %(state)s."),
            code="wrong_state",
            params={"state": merchant.get_kyc_state_display()},
        ) from exc
    merchant.save()
    audit_record(
        subject=merchant, action=action, by=by, from_state=from_state, to_state=merchant.kyc_state, reason=reason
    )
    if tell_owner:
        _notify_owner(merchant, action=action, reason=reason)
    return merchant


# Keyed by audit action; written in the portal's default language, like every notice the merchant is sent.
_NOTIFICATIONS = {
    "kyc.verify": (
        gettext_noop("Your business is verified"),
        gettext_noop("Your KYC for {name} has been verified. You can now see your credit limit and apply for a loan."),
    ),
    "kyc.reject": (
        gettext_noop("Your KYC needs changes"),
        gettext_noop(
            "Your KYC for {name} was not accepted, for this reason:\n\n{reason}\n\n"
            "Sign in to the portal, correct your profile or documents and submit again."
        ),
    ),
    "merchant.suspend": (
        gettext_noop("Your merchant account is suspended"),
        gettext_noop("{name} has been suspended, for this reason:\n\n{reason}\n\nNew loan applications are paused."),
    ),
    "merchant.reinstate": (
        gettext_noop("Your merchant account is active again"),
        gettext_noop("The suspension of {name} has been lifted. You can apply for loans again."),
    ),
}


def _notify_owner(merchant: Merchant, *, action: str, reason: str) -> None:
    """Tell the owner of a review decision (in the inbox, and by email after the commit, at least once)."""
    subject, body = _NOTIFICATIONS[action]
    with translation.override(settings.LANGUAGE_CODE):
        notify(
            user_id=merchant.owner_id,
            title=_(subject),
            body=_(body).format(name=merchant.legal_name or merchant.owner.email, reason=reason),
            url=reverse("merchants:dashboard"),
        )
