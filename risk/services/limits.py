"""Exposure limits: risk managers change them (maker-checker), and lending asks them at approval and at payout.

Changing a limit: ``limit_propose`` makes a new version awaiting a second risk manager, ``limit_version_activate``
puts it in force (the version it replaces is kept, superseded) and ``limit_version_reject`` refuses it. The
activator is never the proposer. Each leaves one audit row on the limit.

Checking: ``LimitFirewall`` is registered with lending's exposure hooks when this app is ready. Inside lending's
transaction (the application locked), a check locks the limits concerned (``select_for_update``, in primary-key
order, always the same order so two checks never deadlock) and only then reads the exposure, with the candidate
counted in: a second approval or payout against the same limit waits for the first to commit and then sees it, so
two against the room of one cannot both pass. A hit at payout holds the payout (``PayoutHold``) until it is released
by an officer (``payout_hold_release``) or by the next attempt that finds room.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.exceptions import StateConflict
from core.formatting import amount as amount_grouped
from core.models import Notice
from core.money import MONEY_MAX_DIGITS, to_fen
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from lending.origination.models import LoanApplication
from lending.origination.services.exposure import LimitHit
from lending.origination.services.funding import FUND_PERMISSION, application_fund
from lending.servicing.models import Loan
from merchants.choices import Industry, Province
from merchants.models import Merchant
from partners.models import FundingPartner, Insurer
from risk.models import ExposureLimit, LimitKind, LimitVersion, PayoutHold
from risk.selectors.limits import (
    APPROVAL,
    CITY_SEPARATOR,
    PAYOUT,
    PLATFORM,
    Candidate,
    active_versions,
    candidate_for,
    exposure_of,
    headroom_for,
    limit_amount_for,
    limit_label,
    partner_exposure,
)
from underwriting.engine.decision import Exposures

K = LimitKind
V = LimitVersion.Status
PROPOSE_PERMISSION = "risk.propose_exposurelimit"
ACTIVATE_PERMISSION = "risk.activate_exposurelimit"
MAX_AMOUNT = Decimal(10 ** (MONEY_MAX_DIGITS - 2)) - 1
# Which limits cap each headroom the engine takes (the engine knows merchant, industry, region, partner, portfolio).
HEADROOM_NAMES = {
    K.MERCHANT: "merchant",
    K.INDUSTRY: "industry",
    K.PROVINCE: "region",
    K.CITY: "region",
    K.LENDER: "partner",
    K.PORTFOLIO: "portfolio",
}


class LimitError(ValidationError):
    """Bad input for a limit, naming the field and what is allowed."""


class LimitConflict(StateConflict):
    """The version is not in a state that allows this step (or another risk manager acted first)."""


# Changing limits.


def limit_propose(
    *,
    kind: str,
    key: str,
    amount: Decimal | str | None,
    share_percent: Decimal | str | None,
    reason: str,
    by: Any,
) -> LimitVersion:
    """Propose a new version of the limit on ``kind``/``key`` (making the limit if it is new); nothing is in force
    until a second risk manager activates it.

    Invariants: only a risk manager (``risk.propose_exposurelimit``); the key names something that exists for its
    kind; an amount above zero and a share above 0 and at most 100 % (no share for the whole portfolio, which is the
    base of every share); a reason; at most one proposal waits per limit. Neither amount nor share proposes to lift
    a limit in force.
    """
    if not getattr(by, "is_authenticated", False) or not by.has_perm(PROPOSE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager can propose a change to an exposure limit."))
    kind, key = _clean_kind_and_key(kind, key)
    amount = _clean_amount(amount)
    share = _clean_share(share_percent, kind=kind)
    reason = str(reason or "").strip()
    if not reason:
        raise LimitError({"reason": [_("Say why the limit changes: the second risk manager reads it.")]})
    with transaction.atomic():
        limit, _created = ExposureLimit.objects.get_or_create(kind=kind, key=key)
        limit = ExposureLimit.objects.select_for_update().get(pk=limit.pk)
        versions = limit.versions.all()
        if versions.filter(status=V.PROPOSED).exists():
            raise LimitConflict(
                _("A change to this limit already awaits a second risk manager: activate or reject it first."),
                code="proposal_pending",
            )
        if amount is None and share is None and not versions.filter(status=V.ACTIVE).exists():
            raise LimitError(
                {"amount": [_("Set an amount, a share of the portfolio, or both (neither lifts a limit in force).")]}
            )
        number = (versions.aggregate(last=Max("version"))["last"] or 0) + 1
        version = LimitVersion.objects.create(
            limit=limit, version=number, amount=amount, share_percent=share, reason=reason, proposed_by=by
        )
        audit_record(
            subject=limit,
            action="limit.propose",
            by=by,
            to_state=version.status,
            reason=reason,
            data={"version": number, **_figures(version)},
        )
    return version


def limit_version_activate(*, version: LimitVersion, by: Any, note: str) -> LimitVersion:
    """Put a proposed version in force; the version it replaces is kept, superseded.

    Invariants: only a risk manager with ``risk.activate_exposurelimit`` other than the proposer; only a proposed
    version; a note for the record. Locks the limit first, as every check does.
    """
    note = _required_note(note)
    with transaction.atomic():
        locked, limit = _locked_version(version, by=by)
        if locked.proposed_by_id == by.pk:
            raise PermissionDenied(_("You proposed this change: another risk manager must activate it."))
        now = timezone.now()
        previous = limit.versions.select_for_update().filter(status=V.ACTIVE).first()
        if previous is not None:
            previous.status = V.SUPERSEDED
            previous.superseded_at = now
            previous.save(update_fields=["status", "superseded_at"])
        locked.status = V.ACTIVE
        locked.decided_by = by
        locked.decided_at = now
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            subject=limit,
            action="limit.activate",
            by=by,
            from_state=V.PROPOSED,
            to_state=V.ACTIVE,
            reason=note,
            data={
                "version": locked.version,
                "proposed_by_id": locked.proposed_by_id,
                "superseded_version": previous.version if previous else None,
                **_figures(locked),
            },
        )
    return locked


def limit_version_reject(*, version: LimitVersion, by: Any, note: str) -> LimitVersion:
    """Refuse a proposed version, saying why; the version in force stays. Not by the proposer."""
    note = _required_note(note)
    with transaction.atomic():
        locked, limit = _locked_version(version, by=by)
        if locked.proposed_by_id == by.pk:
            raise PermissionDenied(_("You proposed this change: another risk manager must decide it."))
        locked.status = V.REJECTED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            subject=limit,
            action="limit.reject",
            by=by,
            from_state=V.PROPOSED,
            to_state=V.REJECTED,
            reason=note,
            data={"version": locked.version, **_figures(locked)},
        )
    return locked


def _locked_version(version: LimitVersion, *, by: Any) -> tuple[LimitVersion, ExposureLimit]:
    if not getattr(by, "is_authenticated", False) or not by.has_perm(ACTIVATE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager can decide a change to an exposure limit."))
    limit = ExposureLimit.objects.select_for_update().get(pk=version.limit_id)
    locked = LimitVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != V.PROPOSED:
        raise LimitConflict(
            _("Only a proposed change can be decided; this one is %(status)s.")
            % {"status": locked.get_status_display()},
            code="not_proposed",
        )
    return locked, limit


def _figures(version: LimitVersion) -> dict:
    return {
        "amount": None if version.amount is None else str(version.amount),
        "share_percent": None if version.share_percent is None else str(version.share_percent),
    }


def _required_note(note: object) -> str:
    note = str(note or "").strip()
    if not note:
        raise LimitError({"note": [_("A note for the record is required.")]})
    return note


def _clean_kind_and_key(kind: str, key: str) -> tuple[str, str]:
    if kind not in K.values:
        raise LimitError(
            {"kind": [_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(K.values)}]}, code="invalid_kind"
        )
    key = str(key or "").strip()
    if kind == K.PORTFOLIO:
        if key:
            raise LimitError({"key": [_("The whole portfolio's limit names nothing: leave it empty.")]})
        return kind, key
    if not key:
        raise LimitError({"key": [_("Say what the limit is on (see the help text for each kind).")]})
    valid = {
        K.MERCHANT: lambda: Merchant.objects.filter(credit_code=key).exists(),
        K.INDUSTRY: lambda: key in Industry.values,
        K.PROVINCE: lambda: key in Province.values,
        K.CITY: lambda: (
            key.partition(CITY_SEPARATOR)[0] in Province.values and bool(key.partition(CITY_SEPARATOR)[2].strip())
        ),
        K.PRODUCT: lambda: LoanProduct.objects.filter(code=key).exists(),
        K.LENDER: lambda: _partner_code_known(K.LENDER, key),
        K.INSURER: lambda: _partner_code_known(K.INSURER, key),
    }[kind]
    if not valid():
        raise LimitError({"key": [_KEY_HELP[kind]]}, code="invalid_key")
    return kind, key


_KEY_HELP = {
    K.MERCHANT: gettext_lazy("No merchant has this credit code: enter the 18-character code of a registered merchant."),
    K.INDUSTRY: gettext_lazy("Enter an industry code of the list (for example H6210 for restaurants)."),
    K.PROVINCE: gettext_lazy("Enter a province's six-digit division code (for example 330000 for Zhejiang)."),
    K.CITY: gettext_lazy(
        "Enter the province's division code and the city as merchants register it, for example 330000/杭州."
    ),
    K.PRODUCT: gettext_lazy("No loan product has this code."),
    K.LENDER: gettext_lazy("Enter 'platform' for the platform's own share, or a funding partner's code."),
    K.INSURER: gettext_lazy("Enter an insurer's code."),
}


def _partner_code_known(kind: str, key: str) -> bool:
    if kind == K.INSURER:
        return Insurer.objects.filter(code=key).exists()
    return key == PLATFORM or FundingPartner.objects.filter(code=key).exists()


def _clean_amount(value: Decimal | str | None) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not Decimal(0) < amount <= MAX_AMOUNT:
        raise LimitError(
            {"amount": [_("Enter an amount in yuan above 0.00 and at most %(max)s.") % {"max": f"{MAX_AMOUNT:,}"}]}
        )
    return to_fen(amount)


def _clean_share(value: Decimal | str | None, *, kind: str) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    if kind == K.PORTFOLIO:
        raise LimitError({"share_percent": [_("The whole portfolio has no share of itself: set an amount only.")]})
    try:
        share = Decimal(str(value).strip().rstrip("%").strip())
    except InvalidOperation:
        share = None
    if (
        share is None
        or not share.is_finite()
        or not Decimal(0) < share <= 100
        or share != share.quantize(Decimal("0.01"))
    ):
        raise LimitError(
            {"share_percent": [_("Enter a share of the portfolio above 0 and at most 100, to two decimal places.")]}
        )
    return share


# Checking, for lending's hooks.


def _keys_of(candidate: Candidate) -> list[tuple[str, str]]:
    keys = list(candidate.keys.items())
    keys.extend((K.LENDER, code) for code in candidate.lender_amounts)
    keys.extend((K.INSURER, code) for code in candidate.insurer_amounts)
    return keys


def _candidate_share(candidate: Candidate, kind: str, key: str) -> Decimal:
    if kind == K.LENDER:
        return candidate.lender_amounts.get(key, Decimal(0))
    if kind == K.INSURER:
        return candidate.insurer_amounts.get(key, Decimal(0))
    return candidate.amount


def _locked_limits(candidate: Candidate, *, lock: bool) -> list[ExposureLimit]:
    condition = Q()
    for kind, key in _keys_of(candidate):
        condition |= Q(kind=kind, key=key)
    limits = ExposureLimit.objects.filter(condition).order_by("pk")
    if not lock:
        return list(limits)
    # Found first, then locked: where no limit applies (the common case) nothing is locked at all.
    ids = list(limits.values_list("pk", flat=True))
    if not ids:
        return []
    return list(ExposureLimit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def limits_check(*, application: LoanApplication, amount: Decimal, stage: str) -> list[LimitHit]:
    """The limits ``application`` for ``amount`` would exceed at ``stage``; locks the limits concerned first."""
    candidate = candidate_for(application=application, amount=amount)
    limits = _locked_limits(candidate, lock=True)
    versions = active_versions(limits) if limits else []
    if not versions:
        return []
    portfolio = None
    if any(version.share_percent is not None for version in versions):
        portfolio = exposure_of(K.PORTFOLIO, "", stage=stage, exclude_pk=application.pk) + amount
    hits = []
    lenders: dict[str, Decimal] | None = None
    for version in versions:
        limit = version.limit
        if limit.kind == K.LENDER:
            # Every lender's share comes from one pass over the book: read once, whichever lenders are limited.
            if lenders is None:
                lenders = partner_exposure(K.LENDER, stage=stage, exclude_pk=application.pk)
            exposure = lenders.get(limit.key, Decimal("0.00"))
        elif limit.kind == K.INSURER:
            exposure = partner_exposure(K.INSURER, stage=stage).get(limit.key, Decimal("0.00"))
        else:
            exposure = exposure_of(limit.kind, limit.key, stage=stage, exclude_pk=application.pk)
        exposure += _candidate_share(candidate, limit.kind, limit.key)
        allowed = limit_amount_for(version, portfolio=portfolio or Decimal(0))
        if allowed is not None and exposure > allowed:
            hits.append(_hit(version, exposure=exposure, allowed=allowed))
    return hits


_HIT_MESSAGE = gettext_lazy(
    "%(kind)s limit on %(label)s (version %(version)s): %(exposure)s yuan would be committed against a limit of "
    "%(limit)s yuan."
)


def _hit(version: LimitVersion, *, exposure: Decimal, allowed: Decimal) -> LimitHit:
    limit = version.limit
    texts = {}
    for field, language in (("message_en", "en"), ("message_zh", "zh-hans")):
        with translation.override(language):
            texts[field] = str(_HIT_MESSAGE) % {
                "kind": str(K(limit.kind).label),
                "label": limit_label(limit.kind, limit.key),
                "version": version.version,
                "exposure": amount_grouped(exposure),
                "limit": amount_grouped(allowed),
            }
    return LimitHit(
        code=f"limit.{limit.kind}.{limit.key}".rstrip("."),
        kind=limit.kind,
        limit=allowed,
        exposure=exposure,
        **texts,
    )


def limits_headroom(*, application: LoanApplication) -> Exposures:
    """How much more may be committed under each limit before this application, by the engine's names.

    Read without locks: it only shapes the credit line the engine offers; the approval check that follows locks.
    """
    candidate = candidate_for(application=application, amount=application.amount)
    limits = _locked_limits(candidate, lock=False)
    versions = active_versions(limits) if limits else []
    room: dict[str, Decimal] = {}
    portfolio = None
    for version in versions:
        limit = version.limit
        name = HEADROOM_NAMES.get(limit.kind)
        if name is None:
            continue
        if version.share_percent is not None and portfolio is None:
            portfolio = exposure_of(K.PORTFOLIO, "", stage=APPROVAL, exclude_pk=application.pk)
        exposure = exposure_of(limit.kind, limit.key, stage=APPROVAL, exclude_pk=application.pk)
        value = headroom_for(version, exposure=exposure, portfolio=portfolio or Decimal(0))
        if value is not None:
            room[name] = min(value, room.get(name, value))
    return Exposures(**room)


class LimitFirewall:
    """The exposure limits as lending's hooks ask them (``lending.origination.services.exposure``)."""

    def headroom(self, *, application: LoanApplication) -> Exposures:
        return limits_headroom(application=application)

    def approval_hits(self, *, application: LoanApplication, amount: Decimal) -> list[LimitHit]:
        return limits_check(application=application, amount=amount, stage=APPROVAL)

    def payout_hits(self, *, application: LoanApplication, amount: Decimal) -> list[LimitHit]:
        return limits_check(application=application, amount=amount, stage=PAYOUT)

    def payout_hold(self, *, application: LoanApplication, hits: list[LimitHit], by: Any) -> None:
        payout_hold_record(application=application, hits=hits, by=by)

    def payout_clear(self, *, application: LoanApplication, by: Any) -> None:
        payout_hold_clear(application=application, by=by)


# The one checker of the process, registered with lending when the app is ready.
LIMIT_FIREWALL = LimitFirewall()


# Payouts held.


def payout_hold_record(*, application: LoanApplication, hits: list[LimitHit], by: Any = None) -> PayoutHold:
    """Hold the payout of ``application`` (locked by the caller) for ``hits``; a hold already open is brought up to
    date instead (another attempt found no room either): one hold, one audit row and one notice, however often."""
    limits = [hit.as_reason() | {"limit": str(hit.limit), "exposure": str(hit.exposure)} for hit in hits]
    reason_en = "; ".join(hit.message_en for hit in hits)
    reason_zh = "; ".join(hit.message_zh for hit in hits)
    hold = PayoutHold.objects.select_for_update().filter(application=application, status=PayoutHold.Status.HELD).first()
    if hold is not None:
        hold.limits, hold.reason_en, hold.reason_zh = limits, reason_en, reason_zh
        hold.save(update_fields=["limits", "reason_en", "reason_zh", "checked_at"])
        return hold
    hold = PayoutHold.objects.create(application=application, limits=limits, reason_en=reason_en, reason_zh=reason_zh)
    audit_record(
        subject=hold,
        action="payout.hold",
        by=by,
        to_state=hold.status,
        reason=reason_en,
        data={"application_id": application.pk, "limits": limits},
    )
    _notify_officers(
        title=_("A payout is held by an exposure limit"),
        body=_("The payout of application #%(id)s of %(merchant)s is held: %(reason)s")
        % {"id": application.pk, "merchant": application.merchant, "reason": reason_en},
        url=reverse("admin:risk_payouthold_change", args=[hold.pk]),
    )
    return hold


def payout_hold_clear(*, application: LoanApplication, by: Any = None) -> PayoutHold | None:
    """Release the open hold of ``application`` (locked by the caller), if any: its payout found room."""
    hold = PayoutHold.objects.select_for_update().filter(application=application, status=PayoutHold.Status.HELD).first()
    if hold is None:
        return None
    hold.status = PayoutHold.Status.RELEASED
    hold.released_at = timezone.now()
    hold.released_by = by if getattr(by, "is_authenticated", False) else None
    hold.save(update_fields=["status", "released_at", "released_by", "checked_at"])
    audit_record(
        subject=hold,
        action="payout.release",
        by=by,
        from_state=PayoutHold.Status.HELD,
        to_state=hold.status,
        reason="The exposure limits have room for the payout again.",
        data={"application_id": application.pk},
    )
    return hold


def payout_hold_release(*, hold: PayoutHold, by: Any) -> Loan:
    """An officer releases a held payout: the limits are checked again and, with room, the loan is made and paid.

    Only an officer who may fund loans; only a hold still open. Without room the hold stays (brought up to date) and
    the refusal names the limits still in the way.
    """
    if not getattr(by, "is_authenticated", False) or not by.has_perm(FUND_PERMISSION):
        raise PermissionDenied(_("You do not have permission to fund loans."))
    current = PayoutHold.objects.get(pk=hold.pk)
    if current.status != PayoutHold.Status.HELD:
        raise LimitConflict(_("This payout is no longer held."), code="not_held")
    loan = application_fund(application=current.application, by=by)
    if loan is None:
        current.refresh_from_db()
        reason = current.reason_zh if (translation.get_language() or "").startswith("zh") else current.reason_en
        if current.status == PayoutHold.Status.HELD:
            raise LimitError(_("There is still no room: %(reason)s") % {"reason": reason}, code="still_held")
        raise LimitError(_("The loan waits for a second approval before it is paid out."), code="awaiting_second")
    return loan


def _notify_officers(*, title: str, body: str, url: str) -> None:
    app_label, codename = FUND_PERMISSION.split(".")
    officers = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
            | Q(groups__permissions__content_type__app_label=app_label, groups__permissions__codename=codename)
        )
        .distinct()
    )
    # In the back office's inbox (no email): officers work there, and a limit may hold many payouts in a day.
    Notice.objects.bulk_create(Notice(user=officer, title=title, body=body, url=url) for officer in officers)


__all__ = [
    "ACTIVATE_PERMISSION",
    "LIMIT_FIREWALL",
    "PROPOSE_PERMISSION",
    "LimitConflict",
    "LimitError",
    "LimitFirewall",
    "limit_propose",
    "limit_version_activate",
    "limit_version_reject",
    "limits_check",
    "limits_headroom",
    "payout_hold_clear",
    "payout_hold_record",
    "payout_hold_release",
]
