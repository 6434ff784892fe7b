"""What every back-office page shares: read-only model pages, the audit trail table, counting without COUNT(*),
and one way to say why a service refused an officer's action.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.exceptions import StateConflict
from core.models import AuditEvent
from core.selectors.audit import audit_trail

# What a service raises when it refuses an officer's action: shown as a message, never as an error page.
REFUSALS = (ValidationError, StateConflict, PermissionDenied)


def refusal_message(exc: Exception) -> str:
    """The reason a service refused, as one line an officer can read."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
        return " ".join(exc.messages)
    if isinstance(exc, StateConflict):
        return exc.message
    return str(exc) or gettext("You do not have permission to do this.")


class ReadOnlyAdminMixin:
    """Officers look; the services change. No add, change or delete through the generic admin forms."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def html_table(headers: Iterable[str], rows: Iterable[Iterable[object]], *, empty: str) -> str:
    """A plain HTML table for a read-only admin field, every cell escaped; ``empty`` when there are no rows."""
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def audit_table(events: Iterable[AuditEvent]) -> str:
    """Audit rows as a table: when, who, what, the change of state and the reason."""
    return html_table(
        [gettext("At"), gettext("Who"), gettext("Action"), gettext("Change"), gettext("Reason")],
        (
            (
                f"{timezone.localtime(event.at):%Y-%m-%d %H:%M:%S}",
                event.actor_label,
                event.action,
                f"{event.from_state or '—'} → {event.to_state or '—'}",
                event.reason,
            )
            for event in events
        ),
        empty=gettext("No events yet."),
    )


class AuditTrailAdminMixin:
    """An ``audit_trail_table`` field for a model page: the object's audit rows, with those of ``audit_related``.

    Add ``"audit_trail_table"`` to ``readonly_fields`` and a fieldset; override ``audit_related`` to show the rows of
    objects that belong to this one (a loan's payout on the loan's page), merged in time order.
    """

    def audit_related(self, obj: models.Model) -> Iterable[models.Model]:
        return ()

    def audit_trail_table(self, obj: models.Model) -> str:
        events = list(audit_trail(obj))
        for related in self.audit_related(obj):
            events += list(audit_trail(related))
        return audit_table(sorted(events, key=lambda event: (event.at, event.pk)))

    audit_trail_table.short_description = _("audit trail")


class EstimatedCountPaginator(Paginator):
    """Paginates like Django's, but takes an unfiltered PostgreSQL table's size from ``pg_class.reltuples``.

    COUNT(*) reads the whole table (PostgreSQL keeps no row count), which at millions of rows makes every page of
    a changelist slow. The planner's estimate is refreshed by autovacuum and is close enough to size the page
    links. Filtered lists (a queue, a search) and small tables are counted exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        estimate = _estimated_rows(self.object_list)
        if estimate is not None and estimate > self.estimate_above:
            return estimate
        return super().count


def _estimated_rows(object_list) -> int | None:
    if not isinstance(object_list, QuerySet) or object_list.query.where:
        return None
    connection = connections[object_list.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [object_list.model._meta.db_table]
        )
        row = cursor.fetchone()
    # -1 (or nothing) means the table was never analysed: the estimate is unknown.
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None
