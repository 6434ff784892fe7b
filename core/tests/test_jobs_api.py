"""The nightly runs' progress for staff: over the API (officers only) and in the back office (read-only)."""

import datetime

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import JobChunk, JobRun

ON = datetime.date(2027, 6, 15)


@pytest.fixture
def runs(db):
    """Yesterday's servicing run, done; today's, one chunk done, one failed, one still to run."""
    done = JobRun.objects.create(
        job="lending-servicing-daily",
        business_date=ON - datetime.timedelta(days=1),
        status="done",
        chunk_size=2000,
        chunks_total=1,
        counts={"loans_serviced": 1800},
    )
    JobChunk.objects.create(run=done, number=1, status="done", attempts=1, counts={"loans_serviced": 1800})
    today = JobRun.objects.create(job="lending-servicing-daily", business_date=ON, chunk_size=2000, chunks_total=3)
    JobChunk.objects.create(run=today, number=1, last_id=2000, status="done", attempts=1)
    JobChunk.objects.create(
        run=today, number=2, first_id=2001, last_id=4000, status="failed", attempts=2, error="OperationalError: gone"
    )
    JobChunk.objects.create(run=today, number=3, first_id=4001, status="pending")
    return done, today


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_an_officer_sees_each_runs_progress_and_its_failed_chunks(loan_officer, runs):
    response = _client(loan_officer).get("/api/v1/jobs/runs/")

    assert response.status_code == 200
    today, yesterday = response.json()["results"]
    assert (today["business_date"], today["status"]) == ("2027-06-15", "running")
    progress = [today[key] for key in ("chunks_total", "chunks_done", "chunks_failed", "chunks_waiting")]
    assert progress == [3, 1, 1, 1]
    assert today["failed"] == [
        {"number": 2, "first_id": 2001, "last_id": 4000, "attempts": 2, "error": "OperationalError: gone"}
    ]
    assert (yesterday["status"], yesterday["chunks_done"], yesterday["counts"]) == ("done", 1, {"loans_serviced": 1800})
    assert yesterday["failed"] == []


def test_runs_filter_by_status_and_a_wrong_status_names_the_allowed_ones(risk_manager, runs):
    client = _client(risk_manager)

    assert [run["business_date"] for run in client.get("/api/v1/jobs/runs/?status=done").json()["results"]] == [
        "2027-06-14"
    ]
    refused = client.get("/api/v1/jobs/runs/?status=stuck")
    assert refused.status_code == 400
    assert "status" in refused.json()["fields"]
    assert "running, done, failed" in str(refused.json()["fields"]["status"])


def test_a_merchant_and_a_partner_are_refused(merchant_owner, partner_user, runs):
    for user in (merchant_owner, partner_user):
        response = _client(user).get("/api/v1/jobs/runs/")
        assert response.status_code == 403
        assert "2027-06-15" not in response.content.decode()


def test_the_back_office_lists_runs_with_progress_and_shows_the_chunks_read_only(client, loan_officer, runs):
    _done, today = runs
    client.force_login(loan_officer)

    listing = client.get("/admin/core/jobrun/")
    assert listing.status_code == 200
    assert "1 / 3" in listing.content.decode()

    page = client.get(f"/admin/core/jobrun/{today.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "2001 – 4000" in text
    assert "OperationalError: gone" in text
    assert 'name="_save"' not in text  # read-only: nothing to save
    assert client.get("/admin/core/jobrun/add/").status_code == 403


def test_a_merchant_cannot_open_the_runs_in_the_back_office(client, merchant_owner, runs):
    client.force_login(merchant_owner)

    assert client.get("/admin/core/jobrun/").status_code == 302  # to the back office's sign-in
