"""The nightly runs' progress over the API, for staff: ``GET /api/v1/jobs/runs/``.

Loan officers, senior officers and risk managers only; merchants, partners and the platform feed get 403. Each run
says its job, business date and status, how many of its chunks are done, failed or still to run, what it did once
recorded, and the failed chunks with their errors.
"""

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import states_filter
from core.api.pagination import DefaultCursorPagination
from core.api.permissions import IsOfficer
from core.models import JobRun
from core.selectors.jobs import job_chunks_failed, job_runs_with_progress


class JobChunkFailedSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    first_id = serializers.IntegerField(allow_null=True, help_text="First row id of the chunk (null: from the start).")
    last_id = serializers.IntegerField(allow_null=True, help_text="Last row id of the chunk (null: to the end).")
    attempts = serializers.IntegerField()
    error = serializers.CharField()


class JobRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.CharField(help_text="The beat schedule's name of the job.")
    business_date = serializers.DateField()
    status = serializers.ChoiceField(choices=JobRun.Status.choices)
    chunk_size = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    chunks_done = serializers.IntegerField()
    chunks_failed = serializers.IntegerField()
    chunks_waiting = serializers.IntegerField(help_text="Chunks not yet run or running now.")
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="What the run did, added up over its chunks once it is recorded."
    )
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    failed = serializers.SerializerMethodField()

    @extend_schema_field(JobChunkFailedSerializer(many=True))
    def get_failed(self, run: JobRun) -> list[dict]:
        chunks = self.context.get("failed", {}).get(run.pk, [])
        return JobChunkFailedSerializer(chunks, many=True).data


class JobRunFilter(django_filters.FilterSet):
    job = django_filters.CharFilter(help_text="A job's name: lending-servicing-daily, underwriting-preapproved-limits.")
    status = states_filter(JobRun.Status.choices, help_text="One or more statuses (repeat the parameter).")
    business_date = django_filters.DateFilter()

    class Meta:
        model = JobRun
        fields = ["job", "status", "business_date"]


RUN_EXAMPLE = {
    "id": 41,
    "job": "lending-servicing-daily",
    "business_date": "2027-06-15",
    "status": "done",
    "chunk_size": 2000,
    "chunks_total": 50,
    "chunks_done": 50,
    "chunks_failed": 0,
    "chunks_waiting": 0,
    "counts": {"loans_serviced": 100000, "loans_overdue": 8123, "reminders_due_soon": 9102},
    "started_at": "2027-06-15T01:00:00.412000+08:00",
    "finished_at": "2027-06-15T01:00:41.087000+08:00",
    "failed": [],
}


class JobRunListApi(generics.ListAPIView):
    """The nightly runs, newest business date first, with their progress."""

    permission_classes = [IsOfficer]
    serializer_class = JobRunSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = JobRunFilter

    def get_queryset(self):
        return job_runs_with_progress()

    def get_serializer(self, *args, **kwargs):
        if args and not isinstance(args[0], JobRun):
            runs = list(args[0])
            args = (runs, *args[1:])
            kwargs.setdefault("context", self.get_serializer_context())["failed"] = job_chunks_failed(
                run_ids=[run.pk for run in runs]
            )
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        operation_id="jobs_runs_list",
        summary="List the nightly runs with their progress",
        description="Staff only (loan officers, senior officers, risk managers); merchants and partners get 403. "
        "A run is cut into chunks of rows that the workers run in parallel: `chunks_done` of `chunks_total`, "
        "`chunks_failed` (each with its error under `failed`; they are tried again every ten minutes) and "
        "`chunks_waiting`. Cursor pages, filtered by job, status and business date.",
        responses={200: JobRunSerializer(many=True), 403: OpenApiResponse(description="Not a member of staff.")},
        examples=[OpenApiExample("A servicing day, done", value=RUN_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


urlpatterns = [path("jobs/runs/", JobRunListApi.as_view(), name="job-runs")]
