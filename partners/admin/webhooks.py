"""The webhooks in the back office: every event with its attempts, re-sending, and the partners' credentials.

Events are read-only: an officer sees each event's status and attempts on the list, opens one to read every
attempt (status code, error, duration), and sends failed ones again (``webhook_resend``). A partner's credentials
page rotates its webhook secret or its API token through the services; the new value is shown once, on the page
that confirms it, and never stored anywhere it could be read again.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, AuditTrailAdminMixin, ReadOnlyAdminMixin, refusal_message
from partners.models import FundingPartner, PartnerCredentials, WebhookDelivery, WebhookEvent
from partners.services.webhooks import (
    partner_api_token_rotate,
    partner_webhook_secret_rotate,
    partner_webhook_settings_set,
    webhook_resend,
)

RESEND_PERMISSION = "partners.resend_webhook"
ROTATE_PERMISSION = "partners.rotate_partner_credentials"


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ["attempted_at", "succeeded", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    ordering = ["attempted_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, AuditTrailAdminMixin, admin.ModelAdmin):
    list_display = ["id", "partner", "event", "key", "status_badge", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event", "partner"]
    search_fields = ["key", "partner__code"]
    list_select_related = ["partner"]
    date_hierarchy = "created_at"
    actions = ["resend_selected"]
    inlines = [WebhookDeliveryInline]
    fields = [
        "partner",
        "event",
        "key",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "delivered_at",
        "created_at",
        "payload_pretty",
        "audit_trail_table",
    ]
    readonly_fields = fields

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, event: WebhookEvent) -> str:
        return format_html('<span class="status status-{}">{}</span>', event.status, event.get_status_display())

    @admin.display(description=_("payload"))
    def payload_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, ensure_ascii=False, indent=2, sort_keys=True))

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESEND_PERMISSION)

    @admin.action(description=_("Send again…"), permissions=["resend"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> HttpResponse | None:
        events = list(queryset.select_related("partner"))
        note = confirmed_note(
            self,
            request,
            events,
            action="resend_selected",
            title=gettext("Send webhook events again"),
            what=gettext(
                "Each event below is sent again now, and retried with backoff for another day if the partner "
                "does not answer."
            ),
            submit_label=gettext("Send again"),
        )
        if not isinstance(note, str):
            return note
        sent = 0
        for event in events:
            try:
                webhook_resend(event=event, by=request.user, reason=note)
            except REFUSALS as exc:
                self.message_user(request, f"#{event.pk}: {refusal_message(exc)}", messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(request, gettext("%(count)d event(s) queued to be sent again.") % {"count": sent})
        return None


@admin.register(PartnerCredentials)
class PartnerCredentialsAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    """Where a partner's API token and webhook secret are rotated, and its webhook URL and signing rule set."""

    list_display = [
        "code",
        "legal_name_en",
        "api_user",
        "webhook_url",
        "request_signing_required",
        "has_secret",
        "webhook_secret_rotated_at",
    ]
    list_select_related = ["api_user"]
    search_fields = ["code", "legal_name_zh", "legal_name_en"]
    actions = ["rotate_webhook_secret", "rotate_api_token"]
    fields = [
        "code",
        "legal_name_zh",
        "legal_name_en",
        "api_user",
        "webhook_url",
        "request_signing_required",
        "webhook_secret_rotated_at",
        "audit_trail_table",
    ]
    readonly_fields = [
        "code",
        "legal_name_zh",
        "legal_name_en",
        "api_user",
        "webhook_secret_rotated_at",
        "audit_trail_table",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # partners are made with their agreements

    def audit_related(self, obj: PartnerCredentials):
        # The services audit the partner itself (its concrete model), not this page's proxy of it.
        return [FundingPartner.objects.get(pk=obj.pk)]

    def save_model(self, request: HttpRequest, obj: PartnerCredentials, form, change: bool) -> None:
        # Through the service, so the change is audited and the URL checked, like every other change.
        partner_webhook_settings_set(
            partner=obj,
            webhook_url=form.cleaned_data["webhook_url"],
            request_signing_required=form.cleaned_data["request_signing_required"],
            by=request.user,
        )

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class CredentialsForm(form):
            def clean_webhook_url(self) -> str:
                url = self.cleaned_data.get("webhook_url", "")
                if url and not url.lower().startswith("https://"):
                    raise ValidationError(gettext("Use an https:// address: webhooks carry loan data."))
                return url

        return CredentialsForm

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("webhook secret set"), boolean=True)
    def has_secret(self, partner: PartnerCredentials) -> bool:
        return bool(partner.webhook_secret)

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ROTATE_PERMISSION)

    def _rotate(self, request, queryset, *, action, title, what, submit, label, call) -> HttpResponse | None:
        partners = list(queryset)
        note = confirmed_note(self, request, partners, action=action, title=title, what=what, submit_label=submit)
        if not isinstance(note, str):
            return note
        shown = []
        for partner in partners:
            try:
                shown.append((partner, call(partner, note)))
            except REFUSALS as exc:
                self.message_user(request, f"{partner.code}: {refusal_message(exc)}", messages.ERROR)
        if not shown:
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "what": what,
            "label": label,
            "shown": shown,
        }
        response = TemplateResponse(request, "admin/partners/credentials_shown.html", context)
        add_never_cache_headers(response)  # the admin's pages are never cached; this one above all
        return response

    @admin.action(description=_("Rotate the webhook secret…"), permissions=["rotate"])
    def rotate_webhook_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._rotate(
            request,
            queryset,
            action="rotate_webhook_secret",
            title=gettext("Rotate the webhook secret"),
            what=gettext(
                "Each partner below gets a new webhook secret. Deliveries carry a signature with the old one too "
                "for the rotation window, so the partner can switch without missing an event."
            ),
            submit=gettext("Rotate"),
            label=gettext("New webhook secret"),
            call=lambda partner, note: partner_webhook_secret_rotate(partner=partner, by=request.user, reason=note),
        )

    @admin.action(description=_("Issue a new API token (revoking the old one)…"), permissions=["rotate"])
    def rotate_api_token(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._rotate(
            request,
            queryset,
            action="rotate_api_token",
            title=gettext("Issue a new API token"),
            what=gettext("Each partner's current API token stops working at once; the new one is shown next."),
            submit=gettext("Issue and revoke"),
            label=gettext("New API token"),
            call=lambda partner, note: partner_api_token_rotate(partner=partner, by=request.user, reason=note).key,
        )
