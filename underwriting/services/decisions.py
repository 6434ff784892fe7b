"""Every write of underwriting's engine: decisions, scorecard versions, policy rules and pre-approved limits.

Fraud alerts are raised through ``underwriting.services.fraud`` (inside the decision's transaction) and resolved
there by officers.
"""

import datetime
import logging
import time
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from core.services.audit import audit_record
from merchants.choices import KycState
from merchants.models import Merchant
from underwriting.choices import ScorecardState
from underwriting.engine.decision import (
    CreditRequest,
    Exposures,
    default_auto_approve_ceiling,
    default_line_multiple,
    default_preapproval_cap,
    evaluate,
    preapproval,
)
from underwriting.engine.scoring import scorecard_cached, scorecard_load
from underwriting.models import Decision, PolicyRule, PreApprovedLimit, Scorecard
from underwriting.selectors.decisions import (
    fraud_alerts_blocking_by_merchant,
    policy_rules_active,
    scorecard_active,
    scorecard_active_key,
)
from underwriting.selectors.features import compute_features
from underwriting.services.fraud import fraud_alerts_raise

logger = logging.getLogger(__name__)

ACTIVATE_PERMISSION = "underwriting.activate_scorecard"
DURATION_PLACES = Decimal("0.001")


class UnderwritingError(ValidationError):
    """A step was refused for a reason the person acting can do something about; the message says which."""


class NoActiveScorecardError(UnderwritingError):
    """No scorecard is active, so nothing can be decided automatically until a risk manager activates one."""


# Decisions.


def decision_make(
    *,
    merchant: Merchant,
    request: CreditRequest,
    exposures: Exposures,
    application_id: int | None = None,
    by: Any = None,
    as_of: datetime.date | None = None,
) -> Decision:
    """Decide an application with the active scorecard and store the decision, immutable, with its inputs.

    Invariant: a stored decision carries everything it was made from (features, every rule result, fraud
    signals, the request and exposures, the scorecard version) so it can be explained and re-checked later;
    the decision, the fraud alerts its signals raise and its one ``decision.make`` audit row commit together.
    ``duration_ms`` is the time taken to decide, from the first read to just before the decision is written.
    ``by`` is None for an automated decision.
    """
    started = time.perf_counter()
    decided_at = timezone.now()
    as_of = as_of or timezone.localdate()
    key = scorecard_active_key()
    if key is None:
        raise NoActiveScorecardError(
            _(
                "No scorecard is active, so applications cannot be decided automatically; a risk manager must "
                "activate one."
            ),
            code="no_active_scorecard",
        )
    # The active scorecard's id and version are read every time (a risk manager may switch it at any moment);
    # its bins come from the process cache, as a scorecard never changes once it has left draft.
    card = scorecard_cached(scorecard_id=key[0], version=key[1]) or scorecard_load(Scorecard.objects.get(pk=key[0]))
    draft = evaluate(merchant=merchant, request=request, exposures=exposures, as_of=as_of, scorecard=card)
    duration_ms = Decimal((time.perf_counter() - started) * 1000).quantize(DURATION_PLACES)
    snapshot = {**draft.snapshot, "decided_at": decided_at.isoformat(), "duration_ms": str(duration_ms)}
    actor = by if getattr(by, "is_authenticated", False) else None
    with transaction.atomic():
        decision = Decision.objects.create(
            merchant=merchant,
            application_id=application_id,
            outcome=draft.outcome,
            grade=draft.grade,
            score=draft.score,
            probability_of_default=draft.pd,
            requested_amount=draft.requested_amount,
            credit_line=draft.credit_line,
            price_rate=draft.price_rate,
            reasons=draft.reasons,
            snapshot=snapshot,
            scorecard_id=card.id,
            decided_at=decided_at,
            duration_ms=duration_ms,
            decided_by=actor,
        )
        alerts = fraud_alerts_raise(merchant=merchant, hits=draft.fraud_hits, decision=decision)
        audit_record(
            subject=decision,
            action="decision.make",
            by=actor,
            to_state=draft.outcome,
            reason="; ".join(reason["message_en"] for reason in draft.reasons[:3]),
            data={
                "merchant": merchant.pk,
                "application": application_id,
                "grade": draft.grade,
                "score": str(draft.score),
                "credit_line": str(draft.credit_line),
                "scorecard_version": card.version,
                "fraud_alerts_raised": [alert.pk for alert in alerts],
            },
        )
    return decision


# Scorecard versions.


def scorecard_activation_propose(*, scorecard: Scorecard, by: Any, note: str) -> Scorecard:
    """Propose a draft's activation: the first of the two risk managers that activating a scorecard takes.

    Invariants: only a draft with bins and valid parameters, by someone holding ``underwriting.activate_scorecard``,
    with a note; a draft is proposed once (until it is edited, which withdraws the proposal); one audit row.
    Nothing changes for decisions until a different risk manager confirms (``scorecard_activate``).
    """
    note = (note or "").strip()
    if not note:
        raise UnderwritingError(
            {"note": [_("Say why this version should be activated; the second risk manager reads it.")]}
        )
    with transaction.atomic():
        locked = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        _require_activatable(locked, by)
        if locked.activation_proposed_at is not None:
            raise UnderwritingError(
                _(
                    "Version %(version)s was proposed for activation by %(who)s already; a different risk manager "
                    "confirms it."
                ),
                code="already_proposed",
                params={"version": locked.version, "who": locked.activation_proposed_by or _("someone")},
            )
        locked.activation_proposed_by = by
        locked.activation_proposed_at = timezone.now()
        locked.activation_proposal_note = note
        locked.save(update_fields=["activation_proposed_by", "activation_proposed_at", "activation_proposal_note"])
        audit_record(
            subject=locked,
            action="scorecard.activation_propose",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=note,
            data={"version": locked.version},
        )
    return locked


def _require_activatable(locked: Scorecard, by: Any) -> None:
    if not can_proceed(locked.activate):
        raise UnderwritingError(
            _("Only a draft can be activated; version %(version)s is %(state)s."),
            code="wrong_state",
            params={"version": locked.version, "state": locked.get_state_display()},
        )
    # has_transition_perm is False from a wrong state too, so the state is checked first.
    if not has_transition_perm(locked.activate, by):
        raise PermissionDenied(_("You do not have permission to activate or retire scorecards."))
    if not locked.bins.exists():
        raise UnderwritingError(
            _("Version %(version)s has no bins: it would give every merchant the same score."),
            code="no_bins",
            params={"version": locked.version},
        )
    locked.clean()


def scorecard_activate(*, scorecard: Scorecard, by: Any, note: str = "") -> Scorecard:
    """Confirm a proposed draft's activation: it becomes the active scorecard, retiring the one active now.

    Invariants: exactly one scorecard is active afterwards. Activation takes two risk managers: the draft must have
    been proposed (``scorecard_activation_propose``) and ``by`` must be someone else than who proposed it. Both
    rows are locked (the draft first, so two activations queue on it), the person must hold
    ``underwriting.activate_scorecard``, and each transition writes its own audit row (the activation's names the
    proposer). A draft needs bins to be activated.
    """
    with transaction.atomic():
        locked = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        current = (
            Scorecard.objects.select_for_update().filter(state=ScorecardState.ACTIVE).exclude(pk=locked.pk).first()
        )
        _require_activatable(locked, by)
        if current is not None and not has_transition_perm(current.retire, by):
            raise PermissionDenied(_("You do not have permission to activate or retire scorecards."))
        if locked.activation_proposed_by_id is None:
            raise UnderwritingError(
                _(
                    "Version %(version)s has not been proposed for activation: one risk manager proposes it, and a "
                    "different one confirms."
                ),
                code="not_proposed",
                params={"version": locked.version},
            )
        if locked.activation_proposed_by_id == by.pk:
            raise PermissionDenied(
                _("You proposed version %(version)s; a different risk manager must confirm its activation.")
                % {"version": locked.version}
            )
        if current is not None:
            _scorecard_transition(
                current,
                current.retire,
                action="scorecard.retire",
                by=by,
                reason=_("Replaced by version %(version)s.") % {"version": locked.version},
            )
        try:
            with transaction.atomic():
                _scorecard_transition(
                    locked,
                    locked.activate,
                    action="scorecard.activate",
                    by=by,
                    reason=(note or "").strip(),
                    data={"proposed_by": locked.activation_proposed_by_id},
                )
        except IntegrityError as exc:
            # Another version was activated between our lock and this write (it did not exist to be locked).
            raise UnderwritingError(
                _("Another version was activated at the same moment; reload the list and try again."),
                code="concurrent_activation",
            ) from exc
    return locked


def scorecard_retire(*, scorecard: Scorecard, by: Any, reason: str = "") -> Scorecard:
    """Retire the active scorecard without a successor: automated decisions stop until one is activated.

    This is the brake for a scorecard found to be wrong; switching versions is ``scorecard_activate``.
    """
    with transaction.atomic():
        locked = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
        if not can_proceed(locked.retire):
            raise UnderwritingError(
                _("Only the active scorecard can be retired; version %(version)s is %(state)s."),
                code="wrong_state",
                params={"version": locked.version, "state": locked.get_state_display()},
            )
        if not has_transition_perm(locked.retire, by):
            raise PermissionDenied(_("You do not have permission to activate or retire scorecards."))
        _scorecard_transition(locked, locked.retire, action="scorecard.retire", by=by, reason=reason)
    return locked


def _scorecard_transition(
    scorecard: Scorecard, method: Callable, *, action: str, by: Any, reason: str = "", data: dict | None = None
) -> None:
    from_state = scorecard.state
    method()
    scorecard.save()
    audit_record(
        subject=scorecard,
        action=action,
        by=by,
        from_state=from_state,
        to_state=scorecard.state,
        reason=str(reason),
        data={"version": scorecard.version, **(data or {})},
    )


def scorecard_save(*, scorecard: Scorecard, by: Any) -> Scorecard:
    """Create or edit a draft's parameters; a scorecard that has left draft is never edited."""
    with transaction.atomic():
        if scorecard.pk is not None:
            previous = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
            if previous.state != ScorecardState.DRAFT:
                raise UnderwritingError(
                    _("Version %(version)s is %(state)s and can no longer be changed; make a new draft."),
                    code="not_draft",
                    params={"version": previous.version, "state": previous.get_state_display()},
                )
        scorecard.clean()
        created = scorecard.pk is None
        if created and scorecard.created_by_id is None and getattr(by, "is_authenticated", False):
            scorecard.created_by = by
        # What was proposed for activation is not what is there after an edit: the proposal is withdrawn, and the
        # edited draft is proposed again before a second risk manager can confirm it.
        withdrawn = not created and previous.activation_proposed_at is not None
        if withdrawn:
            scorecard.activation_proposed_by = None
            scorecard.activation_proposed_at = None
            scorecard.activation_proposal_note = ""
        scorecard.save()
        audit_record(
            subject=scorecard,
            action="scorecard.create" if created else "scorecard.update",
            by=by,
            data={"version": scorecard.version, **({"activation_proposal_withdrawn": True} if withdrawn else {})},
        )
    return scorecard


# Policy rules.


def policy_rule_save(*, rule: PolicyRule, by: Any, reason: str = "") -> PolicyRule:
    """Validate and save a rule, with one audit row naming each changed field with its old and new value.

    Decisions already made keep the rule results they were made with, in their snapshots.
    """
    with transaction.atomic():
        previous = PolicyRule.objects.select_for_update().filter(pk=rule.pk).first() if rule.pk else None
        rule.full_clean()
        tracked = [f for f in PolicyRule._meta.concrete_fields if f.name not in {"id", "updated_at"}]
        changes = {
            f.name: [_jsonable(getattr(previous, f.attname)) if previous else None, _jsonable(getattr(rule, f.attname))]
            for f in tracked
            if previous is None or getattr(previous, f.attname) != getattr(rule, f.attname)
        }
        if previous is not None and not changes:
            return previous
        rule.save()
        audit_record(
            subject=rule,
            action="policy_rule.create" if previous is None else "policy_rule.update",
            by=by,
            reason=reason,
            data={"changes": changes},
        )
    return rule


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


# Pre-approved limits.


def preapproved_limits_refresh(
    *,
    merchants_in_default: Callable[[list[int]], Collection[int]],
    as_of: datetime.date | None = None,
    batch_size: int = 2000,
) -> int:
    """Recompute every verified merchant's pre-approved limit with the active scorecard; returns how many.

    Set-based, a batch of merchants at a time: the batch's features in a constant number of queries, the
    scoring in Python, one ``INSERT … ON CONFLICT DO UPDATE`` for the batch's limits. Merchants that are no
    longer verified lose their limit. A limit of 0 means nothing is pre-approved (a rule fails, the score is
    below the automatic approval level, or there are no sales).

    Loan defaults are lending's facts: lending passes ``merchants_in_default``, a function from a batch of merchant
    ids to those with a loan in default, which fail the no-default rule.
    """
    as_of = as_of or timezone.localdate()
    scorecard = scorecard_active()
    if scorecard is None:
        logger.warning("Pre-approved limits not refreshed: no scorecard is active.")
        return 0
    card = scorecard_load(scorecard)
    rules = policy_rules_active()
    cap = min(default_preapproval_cap(), default_auto_approve_ceiling())
    line_multiple = default_line_multiple()
    computed_at = timezone.now()
    refreshed = 0
    last_pk = 0
    while True:
        batch = list(
            Merchant.objects.filter(kyc_state=KycState.VERIFIED, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "industry")[:batch_size]
        )
        if not batch:
            break
        last_pk = batch[-1][0]
        industries = dict(batch)
        ids = list(industries)
        features = compute_features(merchant_ids=ids, as_of=as_of, industries=industries)
        alerts = fraud_alerts_blocking_by_merchant(merchant_ids=ids)
        defaulted = set(merchants_in_default(ids))
        limits = []
        for merchant_id in ids:
            result = preapproval(
                features=features[merchant_id],
                kyc_state=KycState.VERIFIED,
                industry=industries[merchant_id],
                rules=rules,
                scorecard=card,
                blocking_fraud_alerts=alerts.get(merchant_id, 0),
                has_defaulted_loan=merchant_id in defaulted,
                cap=cap,
                line_multiple=line_multiple,
            )
            limits.append(
                PreApprovedLimit(
                    merchant_id=merchant_id,
                    amount=result.amount,
                    grade=result.grade,
                    scorecard_id=card.id,
                    computed_at=computed_at,
                )
            )
        with transaction.atomic():
            PreApprovedLimit.objects.bulk_create(
                limits,
                update_conflicts=True,
                unique_fields=["merchant"],
                update_fields=["amount", "grade", "scorecard", "computed_at"],
            )
        refreshed += len(limits)
    # Every limit this run wrote carries its timestamp: an older one belongs to a merchant no longer verified.
    # (Filtering on the timestamp, not by joining the merchants, keeps this one scan of the limits table.)
    PreApprovedLimit.objects.filter(computed_at__lt=computed_at).delete()
    logger.info("Pre-approved limits refreshed for %d merchants with scorecard v%d.", refreshed, card.version)
    return refreshed


__all__ = [
    "NoActiveScorecardError",
    "UnderwritingError",
    "decision_make",
    "policy_rule_save",
    "preapproved_limits_refresh",
    "scorecard_activate",
    "scorecard_activation_propose",
    "scorecard_retire",
    "scorecard_save",
]
