from core.models import AuditEvent
from core.selectors.audit import audit_trail
from core.services.audit import audit_record


def test_audit_record_keeps_actor_states_and_reason(merchant, loan_officer):
    event = audit_record(
        subject=merchant,
        action="kyc.reject",
        by=loan_officer,
        from_state="submitted",
        to_state="rejected",
        reason="Licence photo is blurred",
    )
    assert list(audit_trail(merchant)) == [event]
    assert event.actor == loan_officer
    assert (event.from_state, event.to_state, event.reason) == ("submitted", "rejected", "Licence photo is blurred")


def test_system_actions_have_no_actor(merchant):
    event = audit_record(subject=merchant, action="sales.replace", by=None)
    assert event.actor is None
    assert event.actor_label == "system"
    assert AuditEvent.objects.count() == 1
