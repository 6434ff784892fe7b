"""The sandbox platform in the back office: what it paid (and debited from each lender's funding account for a
co-funded payout) and what it was asked to collect, and settling the latter.

An officer plays the platform's settlement run: "money arrives" confirms a pending collection, "refused" fails it;
either sends the portal the signed callback the real platform would. Payouts settle by themselves.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin.mixins import REFUSALS, EstimatedCountPaginator, refusal_message
from lending.servicing.services.rails import RailError
from sandbox.models import SandboxTransfer
from sandbox.services import sandbox_collection_settle


@admin.register(SandboxTransfer)
class SandboxTransferAdmin(admin.ModelAdmin):
    list_display = ["reference", "kind", "lender", "amount", "account_name", "status", "created_at", "settled_at"]
    list_filter = ["kind", "status"]
    # A payout's key finds the payout and the funding legs debited for it.
    search_fields = ["=reference", "=idempotency_key", "=payout_key"]
    readonly_fields = [field.name for field in SandboxTransfer._meta.fields]
    actions = ["settle_confirm", "settle_refuse"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _settle(self, request: HttpRequest, queryset: QuerySet, *, confirm: bool) -> None:
        pending = queryset.filter(kind=SandboxTransfer.Kind.COLLECTION, status=SandboxTransfer.Status.PENDING)
        done = 0
        for transfer in pending:
            try:
                sandbox_collection_settle(transfer_id=transfer.pk, confirm=confirm)
            except (*REFUSALS, RailError) as exc:  # one refusal is shown, the others still settle
                self.message_user(request, f"{transfer.reference}: {refusal_message(exc)}", messages.ERROR)
                continue
            done += 1
        self.message_user(
            request,
            ngettext("%(count)d collection settled.", "%(count)d collections settled.", done) % {"count": done},
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description=_("Money arrives: confirm the selected pending collections"), permissions=["change"])
    def settle_confirm(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._settle(request, queryset, confirm=True)

    @admin.action(description=_("Refused: fail the selected pending collections"), permissions=["change"])
    def settle_refuse(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._settle(request, queryset, confirm=False)
