"""Underwriting's back office: the engine's versions, rules and decisions, fraud alerts and the monitoring page."""

from django.utils.translation import gettext_lazy as _

from core.admin.pages import BackOfficePage, back_office_page_register
from underwriting.admin import engine, fraud, monitoring  # noqa: F401
from underwriting.models import FraudAlert

back_office_page_register(
    BackOfficePage(
        key="fraud-alerts",
        title=_("Open fraud alerts"),
        description=_("Signals the engine raised on merchants: clear or confirm each."),
        url_name="admin:underwriting_fraudalert_changelist",
        query=f"status__exact={FraudAlert.Status.OPEN}",
        permission="underwriting.view_fraudalert",
        waiting=lambda: FraudAlert.objects.filter(status=FraudAlert.Status.OPEN).count(),
        position=70,
    )
)
