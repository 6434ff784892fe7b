from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One row for every state change anywhere in the portal: who, when, from, to, why.

    Rows are only ever inserted (by ``core.services.audit.audit_record``); nothing edits or deletes them.
    """

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty when the system acted."),
    )
    action = models.CharField(_("action"), max_length=64)
    from_state = models.CharField(_("from"), max_length=32, blank=True)
    to_state = models.CharField(_("to"), max_length=32, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "at"]),
            # The back office's list at millions of rows: each filter followed by the list's order, and the exact
            # searches (core.admin.audit).
            models.Index(fields=["action", "-at"], name="audit_action_newest"),
            models.Index(fields=["content_type", "-at"], name="audit_type_newest"),
            models.Index(fields=["object_id"], name="audit_object_id"),
            models.Index(fields=["request_id"], name="audit_request_id"),
        ]

    def __str__(self) -> str:
        who = self.actor or _("system")
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.from_state}→{self.to_state}"

    @property
    def actor_label(self) -> str:
        return str(self.actor) if self.actor_id else str(_("system"))


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` and the answer its first request got.

    A retried POST (a dropped connection, a double tap) finds this row and gets the stored answer instead
    of creating a second object or moving money twice. Keys belong to one user, so two clients can never
    see each other's answers. Rows are purged after 48 hours (``idempotency_keys_purge_task``).
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(_("idempotency key"), max_length=255)
    request_hash = models.CharField(
        _("request fingerprint"), max_length=64, help_text=_("SHA-256 of the method, path and canonical body.")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} ({self.state})"


class Notice(models.Model):
    """An in-app notice for one user (the portal's inbox); emails are sent beside it by tasks."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(
        _("emailed at"),
        null=True,
        blank=True,
        help_text=_("When its email went out (or was found not needed: the user has no address)."),
    )

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"]),
            # The sweep for emails that never went out reads only the few notices still waiting.
            models.Index(fields=["created_at"], condition=models.Q(emailed_at__isnull=True), name="notice_unemailed"),
        ]

    def __str__(self) -> str:
        return self.title


class JobRun(models.Model):
    """One business date's run of a nightly job, cut into chunks of its rows (``JobChunk``) that workers share.

    Unique per job and date, so beat firing twice, an operator's ``run_day`` and a resumed run all find the same
    row. ``chunks_total`` is fixed when the run is planned; how many chunks are done or failed is read from the
    chunks (``core.selectors.jobs``), so chunks finishing at once never wait for each other on this row.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.CharField(_("job"), max_length=64, help_text=_("The beat schedule's name for the job."))
    business_date = models.DateField(_("business date"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    chunk_size = models.PositiveIntegerField(_("chunk size"))
    chunks_total = models.PositiveIntegerField(_("chunks"))
    counts = models.JSONField(
        _("what it did"), default=dict, blank=True, help_text=_("The chunks' counts added up, once all have run.")
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-business_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "business_date"], name="one_job_run_per_day")]
        indexes = [models.Index(fields=["status", "started_at"], name="job_run_status")]

    def __str__(self) -> str:
        return f"{self.job} {self.business_date.isoformat()}"


class JobChunk(models.Model):
    """One slice of a run: the rows whose primary key is between ``first_id`` and ``last_id`` (inclusive).

    An empty bound is open: the first chunk starts at the beginning and the last runs to the end, so a row added
    while the run is planned still belongs to a chunk. A chunk's work and its ``done`` mark commit together, so a
    chunk run again (a retry, a redelivered message, a sweep) finds itself done and changes nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    run = models.ForeignKey(JobRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField(_("number"))
    first_id = models.BigIntegerField(_("first id"), null=True, blank=True)
    last_id = models.BigIntegerField(_("last id"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True, help_text=_("The last attempt's error, if it failed."))
    counts = models.JSONField(_("what it did"), default=dict, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("job chunk")
        verbose_name_plural = _("job chunks")
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_chunk_number_per_run")]

    def __str__(self) -> str:
        return f"{self.run} #{self.number}"

    @property
    def bounds(self) -> str:
        return f"{'…' if self.first_id is None else self.first_id} – {'…' if self.last_id is None else self.last_id}"
