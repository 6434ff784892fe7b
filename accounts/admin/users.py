from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from accounts.services.staff_enrolment import staff_enrolment_issue


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "roles", "is_staff", "is_active", "last_login"]
    list_filter = ["groups", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["issue_enrolment_link"]

    def get_queryset(self, request):
        # One query for every row's roles instead of one per row.
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, user: User) -> str:
        # Role labels are translated; a group that is not a role shows its plain name.
        labels = dict(Role.choices)
        return ", ".join(sorted(str(labels.get(group.name, group.name)) for group in user.groups.all())) or "—"

    @admin.action(description=_("Issue a one-time second-factor enrolment link"), permissions=["change"])
    def issue_enrolment_link(self, request, queryset):
        # Each link is shown once, here, for the administrator to hand over by a channel they trust.
        for user in queryset.order_by("email"):
            try:
                token = staff_enrolment_issue(user=user, by=request.user)
            except PermissionDenied as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                continue
            link = request.build_absolute_uri(reverse("accounts:staff-enrol", args=[token]))
            self.message_user(
                request,
                _("Enrolment link for %(email)s (works once, within %(hours)d hours): %(link)s")
                % {
                    "email": user.email,
                    "hours": settings.STAFF_ENROLMENT_LINK_LIFETIME.total_seconds() // 3600,
                    "link": link,
                },
                messages.SUCCESS,
            )
