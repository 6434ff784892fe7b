"""Switching scorecard versions (service and admin), editing policy rules, and reading decisions in admin."""

import datetime
import io
import itertools
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.selectors.audit import audit_trail
from merchants.tests.factories import MerchantFactory
from underwriting.choices import Feature, ScorecardState
from underwriting.engine.decision import CreditRequest, Exposures
from underwriting.models import PolicyRule, Scorecard
from underwriting.services.decisions import (
    UnderwritingError,
    decision_make,
    scorecard_activate,
    scorecard_activation_propose,
    scorecard_retire,
    scorecard_save,
)
from underwriting.services.demo import RULES, underwriting_seed
from underwriting.tests.factories import (
    DecisionFactory,
    ScorecardFactory,
    activation_proposed,
    add_sales,
    known_scorecard,
)

SCORECARDS = reverse("admin:underwriting_scorecard_changelist")
RISK_MANAGER_PERMISSIONS = [
    "view_scorecard",
    "add_scorecard",
    "change_scorecard",
    "activate_scorecard",
    "view_scorecardbin",
    "add_scorecardbin",
    "change_scorecardbin",
    "delete_scorecardbin",
    "view_policyrule",
    "add_policyrule",
    "change_policyrule",
    "view_decision",
    "view_preapprovedlimit",
]


def grant(user, *codenames: str):
    """Give a user underwriting permissions (the role groups get them from ``accounts.roles``)."""
    permissions = Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    user.user_permissions.add(*permissions)
    # Permissions are cached on the instance; a fresh copy sees the new ones.
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def manager(risk_manager):
    return grant(risk_manager, *RISK_MANAGER_PERMISSIONS)


@pytest.fixture
def proposer(db):
    """The other risk manager: activating a scorecard takes two, one proposes and a different one confirms."""
    from accounts.roles import Role
    from accounts.tests.factories import make_user

    return grant(make_user(Role.RISK_MANAGER, email="risk2@loanportal.example", staff=True), *RISK_MANAGER_PERMISSIONS)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def fresh(scorecard: Scorecard) -> Scorecard:
    return Scorecard.objects.get(pk=scorecard.pk)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The service.


def test_activating_a_draft_retires_the_active_version_and_audits_both(manager, proposer):
    current = known_scorecard(state=ScorecardState.ACTIVE)
    draft = activation_proposed(known_scorecard(), by=proposer)

    scorecard_activate(scorecard=draft, by=manager)

    assert fresh(draft).state == ScorecardState.ACTIVE
    assert fresh(draft).activated_at is not None
    assert fresh(current).state == ScorecardState.RETIRED
    assert fresh(current).retired_at is not None
    assert Scorecard.objects.filter(state=ScorecardState.ACTIVE).count() == 1
    (retired_event,) = audit_trail(current)
    assert (retired_event.action, retired_event.from_state, retired_event.to_state) == (
        "scorecard.retire",
        "active",
        "retired",
    )
    assert retired_event.actor == manager
    assert retired_event.reason == f"Replaced by version {draft.version}."
    proposed_event, activated_event = audit_trail(draft)
    assert (proposed_event.action, proposed_event.actor) == ("scorecard.activation_propose", proposer)
    assert (activated_event.action, activated_event.from_state, activated_event.to_state) == (
        "scorecard.activate",
        "draft",
        "active",
    )
    assert activated_event.actor == manager
    assert activated_event.data["proposed_by"] == proposer.pk


def test_the_first_version_is_activated_without_a_predecessor(manager, proposer):
    draft = activation_proposed(known_scorecard(), by=proposer)

    scorecard_activate(scorecard=draft, by=manager)

    assert fresh(draft).state == ScorecardState.ACTIVE


def test_a_draft_nobody_proposed_cannot_be_activated(manager):
    draft = known_scorecard()

    with pytest.raises(UnderwritingError, match="has not been proposed for activation") as caught:
        scorecard_activate(scorecard=draft, by=manager)

    assert caught.value.code == "not_proposed"
    assert fresh(draft).state == ScorecardState.DRAFT


def test_the_risk_manager_who_proposed_a_version_cannot_confirm_it(manager):
    draft = activation_proposed(known_scorecard(), by=manager)

    with pytest.raises(PermissionDenied, match="a different risk manager must confirm its activation"):
        scorecard_activate(scorecard=draft, by=manager)

    assert fresh(draft).state == ScorecardState.DRAFT
    assert fresh(draft).activation_proposed_by == manager


def test_a_proposal_needs_a_note_and_is_made_once(manager, proposer):
    draft = known_scorecard()

    with pytest.raises(UnderwritingError, match="Say why this version should be activated"):
        scorecard_activation_propose(scorecard=draft, by=proposer, note="  ")
    activation_proposed(draft, by=proposer)
    with pytest.raises(UnderwritingError, match=r"was proposed for activation by risk2@loanportal\.example already"):
        scorecard_activation_propose(scorecard=draft, by=manager, note="Me too.")

    assert fresh(draft).activation_proposed_by == proposer
    assert [event.action for event in audit_trail(draft)] == ["scorecard.activation_propose"]


def test_only_someone_allowed_to_activate_may_propose(loan_officer):
    draft = known_scorecard()

    with pytest.raises(PermissionDenied, match="permission to activate or retire"):
        scorecard_activation_propose(scorecard=draft, by=loan_officer, note="Looks good.")

    assert fresh(draft).activation_proposed_at is None


def test_editing_a_proposed_draft_withdraws_the_proposal(manager, proposer):
    draft = activation_proposed(known_scorecard(), by=proposer)
    draft.intercept_points = Decimal(520)

    scorecard_save(scorecard=draft, by=proposer)

    assert fresh(draft).activation_proposed_at is None
    assert audit_trail(draft).last().data["activation_proposal_withdrawn"] is True
    with pytest.raises(UnderwritingError, match="has not been proposed"):
        scorecard_activate(scorecard=draft, by=manager)


def test_someone_without_the_permission_cannot_activate_and_nothing_changes(loan_officer, proposer):
    current = known_scorecard(state=ScorecardState.ACTIVE)
    draft = activation_proposed(known_scorecard(), by=proposer)

    with pytest.raises(PermissionDenied, match="permission to activate or retire"):
        scorecard_activate(scorecard=draft, by=loan_officer)

    assert fresh(current).state == ScorecardState.ACTIVE
    assert fresh(draft).state == ScorecardState.DRAFT
    assert [event.action for event in audit_trail(draft)] == ["scorecard.activation_propose"]


def test_only_a_draft_can_be_activated(manager):
    retired = known_scorecard(state=ScorecardState.RETIRED)

    with pytest.raises(UnderwritingError, match=r"Only a draft can be activated; version \d+ is Retired"):
        scorecard_activate(scorecard=retired, by=manager)


def test_a_draft_without_bins_cannot_be_activated(manager):
    empty = ScorecardFactory()

    with pytest.raises(UnderwritingError, match="has no bins"):
        scorecard_activate(scorecard=empty, by=manager)


def test_a_draft_with_pd_ceilings_out_of_order_cannot_be_activated(manager):
    draft = known_scorecard(grade_pd_ceilings={"A": "0.05", "B": "0.02"})

    with pytest.raises(ValidationError, match="ceiling for grade B") as caught:
        scorecard_activate(scorecard=draft, by=manager)

    assert "grade_pd_ceilings" in caught.value.message_dict
    assert fresh(draft).state == ScorecardState.DRAFT


def test_retiring_the_active_version_stops_automated_decisions(manager):
    current = known_scorecard(state=ScorecardState.ACTIVE)

    scorecard_retire(scorecard=current, by=manager, reason="Approvals drifting.")

    assert fresh(current).state == ScorecardState.RETIRED
    assert audit_trail(current).get().reason == "Approvals drifting."
    assert not Scorecard.objects.filter(state=ScorecardState.ACTIVE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_versions_activated_at_once_leave_exactly_one_active(risk_manager, proposer):
    manager = grant(risk_manager, "activate_scorecard")
    known_scorecard(state=ScorecardState.ACTIVE)
    drafts = [activation_proposed(known_scorecard(), by=proposer), activation_proposed(known_scorecard(), by=proposer)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def activate(draft: Scorecard) -> None:
        try:
            barrier.wait()
            scorecard_activate(scorecard=draft, by=manager)
            outcomes.append("activated")
        except UnderwritingError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(draft,)) for draft in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["activated", "concurrent_activation"]
    assert Scorecard.objects.filter(state=ScorecardState.ACTIVE).count() == 1


# The admin.


def test_the_list_shows_versions_with_their_state_and_metrics(manager_client):
    trained = known_scorecard(source="trained", metrics={"auc": 0.7412, "gini": 0.4824, "ks": 0.3561})

    response = manager_client.get(SCORECARDS)

    assert response.status_code == 200
    content = response.content.decode()
    assert f"{trained.name}" in content
    assert "0.741" in content
    assert "0.482" in content


def test_a_risk_manager_activates_a_version_from_the_list(manager_client, proposer):
    current = known_scorecard(state=ScorecardState.ACTIVE)
    draft = activation_proposed(known_scorecard(), by=proposer)
    selected = {"action": "activate_version", "_selected_action": [draft.pk]}

    asked = manager_client.post(SCORECARDS, selected)
    assert asked.status_code == 200
    assert "It must have been proposed by a different risk manager." in asked.content.decode()
    assert fresh(draft).state == ScorecardState.DRAFT

    response = manager_client.post(
        SCORECARDS, {**selected, "confirm": "1", "note": "Challenger beats the champion."}, follow=True
    )

    assert response.status_code == 200
    assert page_messages(response) == [f"Version {draft.version} is now active. Version {current.version} was retired."]
    assert fresh(draft).state == ScorecardState.ACTIVE
    assert fresh(current).state == ScorecardState.RETIRED


def test_a_risk_manager_proposes_a_version_from_the_list_with_a_note(manager_client, manager):
    draft = known_scorecard()
    selected = {"action": "propose_activation", "_selected_action": [draft.pk]}

    missing_note = manager_client.post(SCORECARDS, {**selected, "confirm": "1", "note": ""})
    assert missing_note.status_code == 400
    assert fresh(draft).activation_proposed_at is None

    response = manager_client.post(SCORECARDS, {**selected, "confirm": "1", "note": "Better Gini."}, follow=True)

    assert page_messages(response) == [
        f"Version {draft.version} is proposed for activation; a different risk manager confirms it."
    ]
    assert (fresh(draft).activation_proposed_by, fresh(draft).activation_proposal_note) == (manager, "Better Gini.")
    assert fresh(draft).state == ScorecardState.DRAFT


def test_confirming_ones_own_proposal_in_the_list_is_refused_with_the_reason(manager_client, manager):
    draft = activation_proposed(known_scorecard(), by=manager)

    response = manager_client.post(
        SCORECARDS,
        {"action": "activate_version", "_selected_action": [draft.pk], "confirm": "1", "note": "Go."},
        follow=True,
    )

    assert page_messages(response) == [
        f"You proposed version {draft.version}; a different risk manager must confirm its activation."
    ]
    assert fresh(draft).state == ScorecardState.DRAFT


def test_activating_two_selected_versions_at_once_is_refused(manager_client):
    drafts = [known_scorecard(), known_scorecard()]

    response = manager_client.post(
        SCORECARDS, {"action": "activate_version", "_selected_action": [d.pk for d in drafts]}, follow=True
    )

    assert page_messages(response) == ["Select exactly one draft version to activate."]
    assert not Scorecard.objects.filter(state=ScorecardState.ACTIVE).exists()


def test_an_officer_without_the_permission_is_not_offered_the_actions(client, loan_officer):
    officer = grant(loan_officer, "view_scorecard", "view_scorecardbin")
    client.force_login(officer)
    draft = known_scorecard()

    response = client.get(SCORECARDS)
    assert response.status_code == 200
    assert "activate_version" not in response.content.decode()

    client.post(SCORECARDS, {"action": "activate_version", "_selected_action": [draft.pk]})
    assert fresh(draft).state == ScorecardState.DRAFT


def test_an_active_version_shows_its_points_table_read_only(manager_client):
    active = known_scorecard(state=ScorecardState.ACTIVE)

    response = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[active.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Fewer than 6 months of sales." in content  # a bin's reason, shown as text
    assert 'name="bins-0-points"' not in content
    assert 'name="intercept_points"' not in content
    assert 'name="state"' not in content


def test_a_draft_points_table_can_be_edited_but_its_state_cannot(manager_client):
    draft = known_scorecard()

    response = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[draft.pk]))

    content = response.content.decode()
    assert 'name="bins-0-points"' in content
    assert 'name="intercept_points"' in content
    assert 'name="state"' not in content


def test_editing_a_draft_in_admin_is_audited(manager_client, manager):
    draft = ScorecardFactory(name="Draft to edit")
    url = reverse("admin:underwriting_scorecard_change", args=[draft.pk])
    data = {
        "name": "Edited draft",
        "source": "expert",
        "notes": "",
        "base_score": "600",
        "base_odds": "50",
        "pdo": "20",
        "intercept_points": "480",
        "grade_pd_ceilings": '{"A": "0.01", "B": "0.025", "C": "0.05", "D": "0.1"}',
        "refer_min_score": "530",
        "approve_min_score": "560",
        "training_distribution": "{}",
        "bins-TOTAL_FORMS": "1",
        "bins-INITIAL_FORMS": "0",
        "bins-MIN_NUM_FORMS": "0",
        "bins-MAX_NUM_FORMS": "1000",
        "bins-0-feature": Feature.MONTHS_ACTIVE,
        "bins-0-lower": "",
        "bins-0-upper": "",
        "bins-0-category": "",
        "bins-0-points": "25",
        "bins-0-woe": "",
        "bins-0-reason_en": "",
        "bins-0-reason_zh": "",
    }

    response = manager_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    draft = fresh(draft)
    assert (draft.name, draft.intercept_points, draft.bins.count()) == ("Edited draft", Decimal("480"), 1)
    assert audit_trail(draft).get().action == "scorecard.update"


def test_a_risk_manager_changes_a_rule_threshold_and_the_change_is_audited(manager_client, manager):
    underwriting_seed()
    rule = PolicyRule.objects.get(code="min-months-active")
    url = reverse("admin:underwriting_policyrule_change", args=[rule.pk])
    data = {
        "code": rule.code,
        "kind": rule.kind,
        "is_active": "on",
        "threshold": "9",
        "parameters": "{}",
        "outcome": rule.outcome,
        "message_en": rule.message_en,
        "message_zh": rule.message_zh,
    }

    response = manager_client.post(url, data)

    assert response.status_code == 302
    assert PolicyRule.objects.get(pk=rule.pk).threshold == Decimal(9)
    event = audit_trail(rule).get()
    assert (event.action, event.actor) == ("policy_rule.update", manager)
    assert event.data["changes"] == {"threshold": ["6.0000", "9"]}


def test_a_rule_with_an_unknown_placeholder_is_refused_with_the_reason(manager_client):
    underwriting_seed()
    rule = PolicyRule.objects.get(code="no-default")
    url = reverse("admin:underwriting_policyrule_change", args=[rule.pk])

    response = manager_client.post(
        url,
        {
            "code": rule.code,
            "kind": rule.kind,
            "is_active": "on",
            "threshold": "",
            "parameters": "{}",
            "outcome": rule.outcome,
            "message_en": "Dear {merchant}, repay first.",
            "message_zh": rule.message_zh,
        },
    )

    assert response.status_code == 200
    assert "Only {value} and {threshold} can be filled in; the message has {merchant}." in response.content.decode()
    assert PolicyRule.objects.get(pk=rule.pk).message_en == rule.message_en


def test_a_decision_is_shown_read_only_with_its_rules_features_and_points(manager_client):
    for rule in RULES:
        PolicyRule.objects.create(**rule)
    known_scorecard(state=ScorecardState.ACTIVE)
    merchant = MerchantFactory(kyc_state="verified", legal_name="杭州丙便利店")
    add_sales(merchant, first=datetime.date(2024, 1, 1), days=561, gross="2000.00")
    request = CreditRequest(
        amount=Decimal("100000"),
        term=12,
        term_unit="months",
        product_code="operating-loan",
        amount_max=Decimal("500000"),
        prices_by_grade={"A": Decimal("0.08")},
    )
    decision = decision_make(
        merchant=merchant, request=request, exposures=Exposures(), as_of=datetime.date(2025, 7, 15)
    )

    listing = manager_client.get(reverse("admin:underwriting_decision_changelist"))
    page = manager_client.get(reverse("admin:underwriting_decision_change", args=[decision.pk]))

    assert listing.status_code == 200
    assert "杭州丙便利店" in listing.content.decode()
    assert page.status_code == 200
    content = page.content.decode()
    assert "amount-within-line" in content
    assert "You asked for ¥100,000.00; the credit line your sales support is ¥91,200.00." in content
    assert "Months trading on the platform" in content  # the features table
    assert "Starting points" in content  # the points table
    assert 'name="_save"' not in content


def test_nobody_adds_or_deletes_decisions_in_admin(manager_client, superuser_client):
    assert manager_client.get(reverse("admin:underwriting_decision_add")).status_code == 403
    assert superuser_client.get(reverse("admin:underwriting_decision_add")).status_code == 403


@pytest.fixture
def superuser_client(client, db):
    from accounts.tests.factories import UserFactory

    admin_user = UserFactory(email="root@loanportal.example", is_staff=True, is_superuser=True)
    other = type(client)()
    other.force_login(admin_user)
    return other


def test_the_back_office_pages_open_for_a_risk_manager(manager_client):
    underwriting_seed()

    for name in (
        "admin:underwriting_scorecard_add",
        "admin:underwriting_policyrule_changelist",
        "admin:underwriting_preapprovedlimit_changelist",
        "admin:underwriting_decision_changelist",
    ):
        assert manager_client.get(reverse(name)).status_code == 200, name
    seeded = Scorecard.objects.get(version=1)
    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[seeded.pk])).content.decode()
    assert "No holdout metrics: an expert scorecard is not fitted to data." in page
    assert "Below 545.00: declined. From 545.00 to below 565.00: referred to an officer." in page


def test_activating_a_draft_with_bad_pd_ceilings_from_the_list_says_why(manager_client):
    draft = known_scorecard(grade_pd_ceilings={"A": "0.05", "B": "0.02"})

    # Refused at the first of the two steps, the proposal, with the reason.
    response = manager_client.post(
        SCORECARDS,
        {"action": "propose_activation", "_selected_action": [draft.pk], "confirm": "1", "note": "Ready."},
        follow=True,
    )

    (message,) = page_messages(response)
    assert message.startswith("The ceiling for grade B must be a fraction between 0 and 1 above the ceiling")
    assert fresh(draft).state == ScorecardState.DRAFT


# A trained scorecard in the back office: its holdout figures, calibration and trade-off, and a challenger.

EXAMPLE_CSV = Path(__file__).parent / "data" / "example_applicants.csv"


def test_a_trained_scorecard_shows_its_holdout_figures_calibration_and_trade_off(manager_client):
    call_command(
        "train_scorecard",
        "--csv",
        str(EXAMPLE_CSV),
        "--target",
        "defaulted",
        "--target-approval-rate",
        "0.6",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    card = Scorecard.objects.get()
    holdout = card.metrics["holdout"]

    listing = manager_client.get(SCORECARDS).content.decode()
    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[card.pk])).content.decode()

    assert f'<td class="field-auc">{holdout["auc"]:.3f}</td>' in listing
    low, high = holdout["auc_interval"]
    assert f"<td>holdout</td><td>{holdout['auc']:.3f}</td><td>{low:.3f} – {high:.3f}</td>" in page
    assert f"<td>all</td><td>{holdout['rows']}</td><td>{holdout['bads']}</td>" in page  # the calibration table
    first_band = card.metrics["calibration"][0]
    assert (
        f"<td>{first_band['min_score']:.2f} – {first_band['max_score']:.2f}</td><td>{first_band['rows']}</td>" in page
    )
    assert "Cut-offs set for a target approval rate of 60.0 %." in page
    chosen = next(line for line in card.metrics["tradeoff"] if line["cutoff"] == str(card.approve_min_score))
    assert f"<td>{chosen['cutoff']}</td><td>{chosen['approval_rate']:.1%}</td><td>{chosen['approved']}</td>" in page


def test_a_trained_scorecard_shows_its_holdout_auc_ks_gini_and_roc_curve_in_the_list_and_on_its_page(manager_client):
    call_command(
        "train_scorecard",
        "--csv",
        str(EXAMPLE_CSV),
        "--target",
        "defaulted",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    card = Scorecard.objects.get()
    holdout = card.metrics["holdout"]

    listing = manager_client.get(SCORECARDS).content.decode()
    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[card.pk])).content.decode()

    for name in ("auc", "ks", "gini"):
        assert f'<td class="field-{name}">{holdout[name]:.3f}</td>' in listing
    # The page's holdout metrics start with the three figures a version is judged by.
    assert (
        f"<tr><td>AUC</td><td>{holdout['auc']:.3f}</td></tr><tr><td>KS</td><td>{holdout['ks']:.3f}</td></tr>"
        f"<tr><td>Gini</td><td>{holdout['gini']:.3f}</td></tr>"
    ) in page
    # The ROC curve, drawn from the holdout's points, each with its numbers; its ends are (0, 0) and (1, 1).
    roc = holdout["roc"]
    assert roc[0][:2] == [0.0, 0.0]
    assert roc[-1][:2] == [1.0, 1.0]
    assert 10 <= len(roc) <= 52
    assert '<svg class="chart" id="roc-curve" role="img"' in page
    assert f"ROC curve of version {card.version} on its holdout (AUC {holdout['auc']:.3f})" in page
    fpr, tpr, cutoff = next(point for point in roc if point[2] is not None)
    assert f"<title>declining up to {cutoff:.2f}: goods declined {fpr:.1%}, bads declined {tpr:.1%}</title>" in page
    # The area under the stored points is the AUC, to the precision of 50 points.
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(roc))
    assert abs(area - holdout["auc"]) < 0.01


def test_a_version_trained_before_roc_points_were_kept_draws_its_curve_from_the_calibration_bands(manager_client):
    bands = [
        {"min_score": 480, "max_score": 520, "rows": 100, "bads": 40, "observed_bad_rate": 0.4},
        {"min_score": 521, "max_score": 580, "rows": 100, "bads": 10, "observed_bad_rate": 0.1},
        {"min_score": 581, "max_score": 700, "rows": 100, "bads": 0, "observed_bad_rate": 0.0},
    ]
    for band in bands:
        band["predicted_bad_rate"] = band["observed_bad_rate"]
    card = known_scorecard(
        source="trained",
        metrics={"holdout": {"auc": 0.8, "ks": 0.5, "gini": 0.6, "bad_rate": 0.1667}, "calibration": bands},
    )

    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[card.pk])).content.decode()

    # Declining the riskiest band: 60 of 250 goods (24.0 %) and 40 of 50 bads (80.0 %).
    assert "<title>declining up to 520.00: goods declined 24.0%, bads declined 80.0%</title>" in page
    assert "<td>580.00</td><td>60.0%</td><td>100.0%</td>" in page


def test_an_expert_scorecard_says_it_has_no_holdout_to_draw(manager_client):
    underwriting_seed()
    card = Scorecard.objects.get()

    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[card.pk])).content.decode()

    assert "No ROC curve: the scorecard was not fitted to data with a holdout." in page
    assert 'id="roc-curve"' not in page


def _decided(days_ago: int, **features) -> None:
    DecisionFactory(decided_at=timezone.now() - datetime.timedelta(days=days_ago), snapshot={"features": features})


def test_a_challenger_is_scored_on_the_last_90_days_beside_the_champion(manager_client):
    # known_scorecard: 500 to start; the champion approves from 560 and refers from 530 (the factory's cut-offs).
    known_scorecard(state=ScorecardState.ACTIVE, name="Champion")
    challenger = known_scorecard(
        name="Challenger", intercept_points=Decimal(520), approve_min_score=Decimal(600), refer_min_score=Decimal(560)
    )
    strong = {"months_active": 24, "monthly_sales_avg": "60000", "refund_ratio": "0.01"}
    _decided(3, **strong, amount_to_monthly_sales="0.5", industry="F5211")  # 650 / 670: approved by both, grade A
    _decided(30, months_active=8, monthly_sales_avg="60000", refund_ratio="0.05", amount_to_monthly_sales="1.5")
    _decided(89, months_active=3, monthly_sales_avg="20000", refund_ratio="0.05", amount_to_monthly_sales="2")
    _decided(100, **strong, amount_to_monthly_sales="0.5", industry="F5211")  # older than 90 days: left out

    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[challenger.pk])).content.decode()

    assert "3 decisions since" in page
    assert "The outcome would change for 1 of them." in page
    assert (
        f"<th>champion: Champion v{challenger.version - 1}</th><th>challenger: Challenger v{challenger.version}</th>"
        in page
    )
    # Scores 650, 570, 500 for the champion; 670, 590, 520 for the challenger.
    assert "<tr><td>approved</td><td>66.7%</td><td>33.3%</td></tr>" in page
    assert "<tr><td>referred</td><td>0.0%</td><td>33.3%</td></tr>" in page
    assert "<tr><td>declined</td><td>33.3%</td><td>33.3%</td></tr>" in page
    assert "<tr><td>grade C</td><td>0.0%</td><td>33.3%</td></tr>" in page  # 590: PD 2.7 %
    assert "<tr><td>grade D</td><td>33.3%</td><td>0.0%</td></tr>" in page  # 570: PD 5.3 %


def test_the_champion_itself_says_it_is_the_champion(manager_client):
    champion = known_scorecard(state=ScorecardState.ACTIVE)

    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[champion.pk])).content.decode()

    assert "This version is the champion: a draft is compared with it here before activation." in page


def test_a_challenger_without_a_champion_shows_its_own_mix_and_says_there_is_none(manager_client):
    challenger = known_scorecard(name="First")
    DecisionFactory(snapshot={"features": {"months_active": 24, "monthly_sales_avg": "60000", "refund_ratio": "0.01"}})

    page = manager_client.get(reverse("admin:underwriting_scorecard_change", args=[challenger.pk])).content.decode()

    assert "1 decisions since" in page
    assert "No version is active: there is no champion to compare with." in page
    assert f"<th>Would have produced</th><th>challenger: First v{challenger.version}</th>" in page
    assert "<tr><td>approved</td><td>100.0%</td></tr>" in page  # 500 + 60 + 40 + 20 + 0 + 0 = 620 ≥ 560
