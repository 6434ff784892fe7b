"""The risk managers' monitoring of a scorecard: rates, grades and PSI on hand-built decisions, and the page.

PSI figures below are worked by hand: Σ (a − e) × ln(a / e), an empty share counted as 0.0001.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone

from accounts.web.views import admin_login
from config import urls as root_urls
from underwriting.admin.monitoring import monitoring_url, monitoring_urls
from underwriting.choices import Feature, Outcome, ScorecardState
from underwriting.models import Decision, Scorecard, ScorecardBin
from underwriting.selectors.monitoring import monitoring_report, parse_band

# Until config/urls.py mounts the page, the tests mount it the same way, ahead of the admin.
urlpatterns = [
    path("admin/underwriting/monitoring/", include(monitoring_urls())),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    *root_urls.urlpatterns,
]
pytestmark = pytest.mark.urls(__name__)

# Decisions are dated relative to now, so that the page (which reads the clock) sees the same window.
NOW = timezone.now()
# Score bands as train_scorecard stores them: 20 % below 550, 30 % in each of the next two, 20 % from 650.
TRAINING = {
    "rows": 1000,
    "edges": [550.0, 600.0, 650.0],
    "bands": [
        {"lower": None, "upper": 550.0, "share": 0.2},
        {"lower": 550.0, "upper": 600.0, "share": 0.3},
        {"lower": 600.0, "upper": 650.0, "share": 0.3},
        {"lower": 650.0, "upper": None, "share": 0.2},
    ],
}


def make_scorecard(*, version=1, state=ScorecardState.ACTIVE, training=None, activated_days_ago=200, name="Expert"):
    return Scorecard.objects.create(
        name=name,
        version=version,
        state=state,
        approve_min_score=Decimal("600"),
        refer_min_score=Decimal("550"),
        training_distribution=TRAINING if training is None else training,
        activated_at=NOW - datetime.timedelta(days=activated_days_ago),
    )


def decide(scorecard, merchant, *, outcome=Outcome.APPROVE, grade="C", score="620", days_ago=1.0, features=None):
    return Decision.objects.create(
        merchant=merchant,
        scorecard=scorecard,
        outcome=outcome,
        grade=grade,
        score=None if score is None else Decimal(score),
        requested_amount=Decimal("50000.00"),
        snapshot={} if features is None else {"features": features},
        decided_at=NOW - datetime.timedelta(days=days_ago),
    )


def scores(scorecard, merchant, values, *, days_ago=1.0):
    for value in values:
        decide(scorecard, merchant, score=value, days_ago=days_ago)


def grant(user, *codenames: str) -> None:
    permissions = Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    user.user_permissions.add(*permissions)


@pytest.fixture
def card(db):
    return make_scorecard()


# Outcomes and grades.


@pytest.fixture
def window_of_eight(card, merchant):
    for outcome, grade, score in [
        (Outcome.APPROVE, "A", "700"),
        (Outcome.APPROVE, "B", "660"),
        (Outcome.APPROVE, "B", "650"),
        (Outcome.APPROVE, "C", "630"),
        (Outcome.REFER, "D", "580"),
        (Outcome.REFER, "D", "570"),
        (Outcome.DECLINE, "E", "520"),
        (Outcome.DECLINE, "", None),  # knocked out before scoring
    ]:
        decide(card, merchant, outcome=outcome, grade=grade, score=score, days_ago=3)
    # Not in the window: 31 days old, or another version's.
    decide(card, merchant, outcome=Outcome.APPROVE, grade="A", score="720", days_ago=31)
    other = make_scorecard(version=2, state=ScorecardState.RETIRED)
    decide(other, merchant, outcome=Outcome.APPROVE, grade="A", score="720", days_ago=2)


def test_rates_grades_and_average_score_of_the_last_30_days(card, window_of_eight):
    report = monitoring_report(scorecard=card, now=NOW)
    assert (report.decisions, report.approved, report.referred, report.declined) == (8, 4, 2, 2)
    assert (report.approval_rate, report.refer_rate, report.decline_rate) == (
        Decimal("0.5000"),
        Decimal("0.2500"),
        Decimal("0.2500"),
    )
    assert [(row.grade, row.count, row.share) for row in report.grades] == [
        ("A", 1, Decimal("0.1429")),
        ("B", 2, Decimal("0.2857")),
        ("C", 1, Decimal("0.1429")),
        ("D", 2, Decimal("0.2857")),
        ("E", 1, Decimal("0.1429")),
    ]
    assert report.ungraded == 1
    # (700 + 660 + 650 + 630 + 580 + 570 + 520) / 7 = 4310 / 7
    assert report.average_score == Decimal("615.71")


def test_window_length_can_be_chosen(card, merchant):
    decide(card, merchant, days_ago=6.9)
    decide(card, merchant, outcome=Outcome.DECLINE, days_ago=7.1)
    assert monitoring_report(scorecard=card, days=7, now=NOW).decisions == 1
    assert monitoring_report(scorecard=card, days=8, now=NOW).decline_rate == Decimal("0.5000")


def test_a_window_without_decisions_has_no_rates(card):
    report = monitoring_report(scorecard=card, now=NOW)
    assert report.decisions == 0
    assert report.approval_rate is None
    assert report.average_score is None
    assert report.score_stability.psi is None
    assert report.score_stability.reading == "no_data"


# Score drift against the training population.


def test_psi_against_the_training_population_is_stable_when_close(card, merchant):
    # Bands get 2, 2, 4, 2 of 10; edges belong to the band above them.
    scores(card, merchant, ["540", "549.99", "550", "599", "600", "610", "620", "649.99", "650", "700"])
    stability = monitoring_report(scorecard=card, now=NOW).score_stability
    assert [(row.label, row.expected_share, row.actual_count) for row in stability.rows] == [
        ("[-∞, 550)", Decimal("0.2000"), 2),
        ("[550, 600)", Decimal("0.3000"), 2),
        ("[600, 650)", Decimal("0.3000"), 4),
        ("[650, ∞)", Decimal("0.2000"), 2),
    ]
    # 0 + (0.2 − 0.3) ln(0.2/0.3) + (0.4 − 0.3) ln(0.4/0.3) + 0 = 0.0405 + 0.0288
    assert stability.psi == Decimal("0.0693")
    assert stability.reading == "stable"


def test_psi_between_a_tenth_and_a_quarter_is_worth_watching(card, merchant):
    scores(card, merchant, ["500", "560", "570", "580", "610", "620", "630", "660", "670", "680"])
    stability = monitoring_report(scorecard=card, now=NOW).score_stability
    # (0.1 − 0.2) ln(0.5) + (0.3 − 0.2) ln(1.5) = 0.0693 + 0.0405
    assert stability.psi == Decimal("0.1099")
    assert stability.reading == "watch"


def test_psi_of_applicants_all_in_the_top_band_says_shifted(card, merchant):
    scores(card, merchant, ["660"] * 10)
    stability = monitoring_report(scorecard=card, now=NOW).score_stability
    # (0.0001 − 0.2) ln(0.0005) + 2 × (0.0001 − 0.3) ln(0.0001/0.3) + (1 − 0.2) ln(5)
    assert stability.psi == Decimal("7.6092")
    assert stability.reading == "shifted"
    assert stability.reading_label == "shifted (above 0.25)"


def test_training_distribution_as_labelled_counts_gives_the_same_psi(merchant):
    card = make_scorecard(training={"<550": 20, "550-600": 30, "600-650": 30, ">=650": 20})
    scores(card, merchant, ["540", "549.99", "550", "599", "600", "610", "620", "649.99", "650", "700"])
    assert monitoring_report(scorecard=card, now=NOW).score_stability.psi == Decimal("0.0693")


def test_parse_band_reads_the_usual_label_shapes():
    assert parse_band("[-∞, 550)") == parse_band("<550") == parse_band("[, 550)")
    assert (parse_band("550-600").lower, parse_band("550-600").upper) == (Decimal(550), Decimal(600))
    assert parse_band("680+").label == parse_band(">=680").label == "[680, ∞)"
    with pytest.raises(ValueError, match="600-550"):
        parse_band("600-550")


def test_unreadable_training_distribution_falls_back_and_says_why(merchant):
    card = make_scorecard(training={"low": 1, "high": 2})
    scores(card, merchant, ["600"])
    report = monitoring_report(scorecard=card, now=NOW)
    assert report.baseline == "early_decisions"
    assert "could not be read (band “low”)" in report.notes[0]


# Score drift against the first decisions, when there is no training distribution.


def test_without_training_distribution_the_first_decisions_after_activation_are_the_baseline(merchant):
    card = make_scorecard(training={}, activated_days_ago=100)
    decide(card, merchant, score="999", days_ago=120)  # before activation: not part of the baseline
    for index, value in enumerate(range(500, 600, 10)):
        decide(card, merchant, score=str(value), days_ago=99 - index)
    scores(card, merchant, ["505"] * 5 + ["595"] * 5)
    report = monitoring_report(scorecard=card, now=NOW)
    assert report.baseline == "early_decisions"
    assert "compared with its first 10 scored decisions after activation" in report.notes[0]
    stability = report.score_stability
    # Ten deciles of 500 … 590, 10 % each; the window puts half in the first and half in the last.
    assert [row.label for row in stability.rows] == [
        "[-∞, 510)",
        *[f"[{low}, {low + 10})" for low in range(510, 590, 10)],
        "[590, ∞)",
    ]
    assert {row.expected_share for row in stability.rows} == {Decimal("0.1000")}
    assert [row.actual_count for row in stability.rows] == [5, 0, 0, 0, 0, 0, 0, 0, 0, 5]
    # 2 × (0.5 − 0.1) ln(5) + 8 × (0.0001 − 0.1) ln(0.001)
    assert stability.psi == Decimal("6.8082")
    assert stability.baseline_count == 10


def test_baseline_size_comes_from_settings_and_overlap_is_flagged(merchant, settings):
    settings.UNDERWRITING_PSI_BASELINE_DECISIONS = 4
    card = make_scorecard(training={}, activated_days_ago=10)
    scores(card, merchant, ["500", "510", "520", "530", "900", "900"], days_ago=5)
    report = monitoring_report(scorecard=card, now=NOW)
    assert "first 4 scored decisions" in report.notes[0]
    assert "overlap the window" in report.notes[1]


def test_no_training_distribution_and_no_decisions_means_no_baseline(db):
    card = make_scorecard(training={})
    report = monitoring_report(scorecard=card, now=NOW)
    assert report.baseline == "none"
    assert report.score_stability is None


# Drift per feature.


@pytest.fixture
def binned_card(db):
    card = make_scorecard(
        training={**TRAINING, "features": {Feature.MONTHS_ACTIVE: {"[-∞, 6)": 0.5, "[6, ∞)": 0.5}}},
        activated_days_ago=100,
    )
    for feature, lower, upper in [
        (Feature.MONTHS_ACTIVE, None, 6),
        (Feature.MONTHS_ACTIVE, 6, None),
        (Feature.MONTHLY_SALES_AVG, None, 10000),
        (Feature.MONTHLY_SALES_AVG, 10000, None),
    ]:
        ScorecardBin.objects.create(scorecard=card, feature=feature, lower=lower, upper=upper, points=0)
    for category in ("F5211", "F5292"):
        ScorecardBin.objects.create(scorecard=card, feature=Feature.INDUSTRY, category=category, points=0)
    return card


def feature_decisions(card, merchant, rows, *, days_ago):
    for months, sales, industry in rows:
        decide(
            card,
            merchant,
            days_ago=days_ago,
            features={"months_active": months, "monthly_sales_avg": sales, "industry": industry, "sales_cv": "0.2"},
        )


@pytest.fixture
def feature_history(binned_card, merchant):
    # The first decisions after activation: the baseline for features the training data does not cover.
    feature_decisions(
        binned_card,
        merchant,
        [(2, "5000.00", "F5211"), (4, "5000.00", "F5211"), (8, "20000.00", "F5211"), (12, None, "F5211")],
        days_ago=90,
    )
    feature_decisions(
        binned_card,
        merchant,
        [(3, "5000.00", "F5211"), (12, "12000.50", "F5211"), (24, "20000.00", "F5292"), (36, "30000.00", "F5292")],
        days_ago=2,
    )
    decide(binned_card, merchant, outcome=Outcome.DECLINE, grade="", score=None, days_ago=2)  # no features at all


def test_feature_psi_uses_the_scorecard_bins_and_the_training_shares(binned_card, feature_history):
    features = {item.feature: item for item in monitoring_report(scorecard=binned_card, now=NOW).features}
    months = features[Feature.MONTHS_ACTIVE]
    assert months.from_training
    assert [(row.label, row.expected_share, row.actual_count) for row in months.stability.rows] == [
        ("[-∞, 6)", Decimal("0.5000"), 1),
        ("[6, ∞)", Decimal("0.5000"), 3),
    ]
    # (0.25 − 0.5) ln(0.5) + (0.75 − 0.5) ln(1.5)
    assert months.stability.psi == Decimal("0.2747")
    assert months.stability.reading == "shifted"


def test_feature_psi_without_training_shares_compares_with_the_first_decisions(binned_card, feature_history):
    features = {item.feature: item for item in monitoring_report(scorecard=binned_card, now=NOW).features}
    sales = features[Feature.MONTHLY_SALES_AVG]
    assert not sales.from_training
    assert sales.stability.baseline_count == 4
    # Baseline 2 below 10,000, 1 above, 1 missing; the window 1, 3, 0.
    assert [(row.label, row.expected_share, row.actual_count) for row in sales.stability.rows] == [
        ("[-∞, 10000)", Decimal("0.5000"), 1),
        ("[10000, ∞)", Decimal("0.2500"), 3),
        ("(missing)", Decimal("0.2500"), 0),
    ]
    # (0.25 − 0.5) ln(0.5) + (0.75 − 0.25) ln(3) + (0.0001 − 0.25) ln(0.0004)
    assert sales.stability.psi == Decimal("2.6778")
    industry = features[Feature.INDUSTRY]
    assert [(row.label, row.actual_count) for row in industry.stability.rows] == [("F5211", 2), ("F5292", 2)]
    # (0.5 − 1) ln(0.5) + (0.5 − 0.0001) ln(5000)
    assert industry.stability.psi == Decimal("4.6043")
    assert Feature.SALES_CV not in features  # in the snapshots but not binned by this scorecard


def test_report_query_count_does_not_grow_with_the_number_of_decisions(binned_card, feature_history, merchant):
    with CaptureQueriesContext(connection) as few:
        monitoring_report(scorecard=binned_card, now=NOW)
    feature_decisions(binned_card, merchant, [(5, "7000.00", "F5292")] * 40, days_ago=1)
    with CaptureQueriesContext(connection) as many:
        report = monitoring_report(scorecard=binned_card, now=NOW)
    assert report.decisions == 45
    # The window's outcomes, the bins, the two populations, the month-by-month history and the histogram's bands.
    assert len(many) == len(few) <= 7


def test_a_value_that_is_not_a_number_is_left_out_instead_of_breaking_the_report(binned_card, merchant):
    feature_decisions(binned_card, merchant, [(3, "n/a", "F5211"), (12, "1E+4", "F5211")], days_ago=1)
    features = {item.feature: item for item in monitoring_report(scorecard=binned_card, now=NOW).features}
    rows = features[Feature.MONTHLY_SALES_AVG].stability.rows
    assert [(row.label, row.actual_count) for row in rows] == [("[-∞, 10000)", 0), ("[10000, ∞)", 1)]


def test_snapshots_without_features_are_said_so(binned_card, merchant):
    decide(binned_card, merchant, days_ago=1)
    report = monitoring_report(scorecard=binned_card, now=NOW)
    assert report.features == []
    assert "snapshots carry no features" in report.notes[-1]


# Month by month, and the window's scores.

JUNE_15 = timezone.make_aware(datetime.datetime(2026, 6, 15, 12, 0))


def decided_on(scorecard, merchant, when: datetime.datetime, outcome: str, score: str | None) -> Decision:
    return Decision.objects.create(
        merchant=merchant,
        scorecard=scorecard,
        outcome=outcome,
        grade="C",
        score=None if score is None else Decimal(score),
        requested_amount=Decimal("50000.00"),
        decided_at=when,
    )


def on(month: int, day: int, year: int = 2026) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, 10, 0))


def test_the_history_counts_each_months_outcomes_and_compares_its_scores_with_the_baseline(card, merchant, settings):
    settings.UNDERWRITING_PSI_MIN_DECISIONS = 4
    for when, outcome, score in [
        (on(3, 10, year=2025), Outcome.APPROVE, "620"),  # more than 12 months before: not in the history
        (on(4, 2), Outcome.APPROVE, "620"),
        (on(4, 20), Outcome.APPROVE, "655"),
        (on(4, 21), Outcome.REFER, "570"),
        (on(4, 30), Outcome.DECLINE, None),
        (on(6, 1), Outcome.APPROVE, "560"),
        (on(6, 3), Outcome.APPROVE, "610"),
        (on(6, 9), Outcome.APPROVE, "660"),
        (on(6, 14), Outcome.DECLINE, "520"),
        (on(6, 16), Outcome.APPROVE, "700"),  # after "now"
    ]:
        decided_on(card, merchant, when, outcome, score)

    history = monitoring_report(scorecard=card, now=JUNE_15).history

    assert [(row.month, row.decisions, row.approved, row.referred, row.declined) for row in history] == [
        (datetime.date(2026, 4, 1), 4, 2, 1, 1),
        (datetime.date(2026, 5, 1), 0, 0, 0, 0),
        (datetime.date(2026, 6, 1), 4, 3, 0, 1),
    ]
    assert [row.approval_rate for row in history] == [Decimal("0.5000"), None, Decimal("0.7500")]
    assert history[1].psi is None
    # June's four scores fall one in each training band (0.2, 0.3, 0.3, 0.2):
    # 2 × (0.25 − 0.2) ln(1.25) + 2 × (0.25 − 0.3) ln(0.25 / 0.3) = 0.0223144 + 0.0182322
    assert history[2].psi == Decimal("0.0405")


def test_a_month_with_too_few_scores_has_no_psi_rather_than_a_noisy_one(card, merchant, settings):
    """On a handful of scores empty bands alone make the index large: such a month shows none."""
    settings.UNDERWRITING_PSI_MIN_DECISIONS = 3
    for day, score in [(1, "560"), (2, "610"), (3, "660"), (4, None)]:
        decided_on(card, merchant, on(5, day), Outcome.APPROVE, score)
    for day, score in [(1, "560"), (2, "None")]:
        decided_on(card, merchant, on(6, day), Outcome.APPROVE, None if score == "None" else score)

    history = monitoring_report(scorecard=card, now=JUNE_15).history

    assert [(row.month.month, row.scored) for row in history] == [(5, 3), (6, 1)]
    assert history[0].psi is not None
    assert history[1].psi is None


def test_a_scorecard_without_decisions_has_no_history(card):
    assert monitoring_report(scorecard=card, now=JUNE_15).history == []


def test_the_histogram_counts_the_windows_scores_in_bands_of_ten_points(card, merchant):
    scores(card, merchant, ["552", "558", "561.50", "575"])
    decide(card, merchant, outcome=Outcome.DECLINE, score=None)  # knocked out: no score to count

    histogram = monitoring_report(scorecard=card, now=NOW).histogram

    assert [(row.lower, row.upper, row.count) for row in histogram] == [(550, 560, 2), (560, 570, 1), (570, 580, 1)]


def test_scores_far_apart_get_wider_bands(card, merchant):
    scores(card, merchant, ["301", "999"])  # 698 points apart: 30 bands of 20 would not cover them

    histogram = monitoring_report(scorecard=card, now=NOW).histogram

    assert histogram[0].upper - histogram[0].lower == 25
    assert (histogram[0].lower, histogram[-1].upper) == (300, 1000)
    assert [row.count for row in histogram if row.count] == [1, 1]


# The page.

PAGE = "/admin/underwriting/monitoring/"


@pytest.fixture
def risk_client(client, risk_manager):
    grant(risk_manager, "view_scorecard")
    client.force_login(risk_manager)
    return client


def test_monitoring_url_is_mounted_under_the_admin(card):
    assert monitoring_url() == PAGE
    assert monitoring_url(card) == f"{PAGE}?version=1"


def test_risk_manager_sees_rates_grades_and_psi(risk_client, card, merchant, window_of_eight):
    response = risk_client.get(PAGE, {"days": 30})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.scorecard == card
    content = response.content.decode()
    assert "Expert v1 (Active)" in content
    assert '<td>Approve</td><td class="number">4</td><td class="number">50.0%</td>' in content
    assert '<td>Decline</td><td class="number">2</td><td class="number">25.0%</td>' in content
    assert '<td class="number">2</td>\n          <td class="number">28.6%</td>' in content
    assert '<strong id="average-score">615.71</strong>' in content
    # The window's seven scores against the training bands: 1, 2, 1, 3 of 7 against 0.2, 0.3, 0.3, 0.2.
    assert '<strong id="score-psi">0.3107</strong>' in content
    assert "shifted (above 0.25)" in content


def test_older_versions_can_be_chosen(risk_client, card, merchant):
    retired = make_scorecard(version=7, state=ScorecardState.RETIRED, name="Trained")
    decide(retired, merchant, days_ago=1)
    response = risk_client.get(PAGE, {"version": 7})
    assert response.context["report"].scorecard == retired
    assert "Trained v7 (Retired)" in response.content.decode()


def test_bad_days_are_refused_with_a_message_and_the_default_is_shown(risk_client, card):
    response = risk_client.get(PAGE, {"days": 0})
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    assert response.context["report"].days == 30


def test_without_an_active_scorecard_the_page_says_so(risk_client, db):
    response = risk_client.get(PAGE)
    assert "There is no active scorecard." in response.content.decode()


def test_staff_without_the_scorecard_permission_are_refused(client, staff_without_role, card):
    client.force_login(staff_without_role)
    assert client.get(PAGE).status_code == 403


def test_merchant_is_sent_to_the_admin_login(client, merchant_owner, card):
    client.force_login(merchant_owner)
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_page_draws_outcomes_drift_and_scores_as_charts_with_their_numbers(
    risk_client, card, merchant, window_of_eight, settings
):
    settings.UNDERWRITING_PSI_MIN_DECISIONS = 1
    response = risk_client.get(PAGE)

    content = response.content.decode()
    for chart in ("approval-chart", "psi-chart", "score-histogram"):
        assert f'<svg class="chart" id="{chart}" role="img" aria-labelledby="{chart}-title {chart}-desc"' in content
        assert f'<title id="{chart}-title">' in content
    # Every point says its numbers, and the table beside the charts has them too.
    latest = [row for row in response.context["report"].history if row.decisions][-1]
    month = f"{latest.month:%Y-%m}"
    assert f"<title>approved, {month}: {latest.approval_rate * 100:.1f}%</title>" in content
    assert f"<title>PSI, {month}: {latest.psi:.4f} ({latest.scored} decisions)</title>" in content
    assert f"<td>{month}</td>" in content
    # The window's scores 520 … 700 in bands of ten, with the scorecard's cut-offs marked.
    assert "<title>520–530: 1</title>" in content
    assert "<title>690–700: 0</title>" in content
    assert ">refer from 550</text>" in content
    assert ">approve from 600</text>" in content
    assert "<script" not in content.split('id="content"')[1]


def test_the_charts_speak_the_officers_language(risk_client, card, merchant, window_of_eight, settings):
    settings.UNDERWRITING_PSI_MIN_DECISIONS = 1
    risk_client.cookies["django_language"] = "zh-hans"

    content = risk_client.get(PAGE).content.decode()

    assert "各月审批结果" in content
    assert "各月评分漂移（PSI）" in content
    assert "逐月" in content
