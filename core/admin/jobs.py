"""The nightly runs in the back office, read-only: each day's run of each job, its progress and its chunks."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.models import JobChunk, JobRun
from core.selectors.jobs import job_runs_with_progress


class JobChunkInline(admin.TabularInline):
    model = JobChunk
    fields = ["number", "bounds", "status", "attempts", "error", "counts", "started_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("loan or merchant ids"))
    def bounds(self, chunk: JobChunk) -> str:
        return chunk.bounds


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "business_date", "status", "progress", "failed", "started_at", "finished_at", "took"]
    list_filter = ["job", "status"]
    date_hierarchy = "business_date"
    fields = [
        "job",
        "business_date",
        "status",
        "progress",
        "failed",
        "chunk_size",
        "counts",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    inlines = [JobChunkInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return job_runs_with_progress()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("chunks done"))
    def progress(self, run: JobRun) -> str:
        return f"{run.chunks_done} / {run.chunks_total}"

    @admin.display(description=_("chunks failed"))
    def failed(self, run: JobRun) -> int:
        return run.chunks_failed

    @admin.display(description=_("took"))
    def took(self, run: JobRun) -> str:
        if run.finished_at is None:
            return "—"
        return f"{(run.finished_at - run.started_at).total_seconds():,.1f} s"
