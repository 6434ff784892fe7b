from django.contrib import admin

from core.admin.mixins import EstimatedCountPaginator, ExactSearchAdminMixin
from core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ExactSearchAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "from_state", "to_state", "content_type", "object_id"]
    list_filter = ["action", "content_type"]
    search_fields = ["=object_id", "=request_id"]
    list_select_related = ["actor", "content_type"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
