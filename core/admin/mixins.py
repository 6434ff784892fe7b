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
    """Paginates like Django's, but never counts more than ``estimate_above`` rows of a PostgreSQL table.

    COUNT(*) reads every row it counts (PostgreSQL keeps no row count), which at millions of rows makes every page
    of a changelist slow, filtered or not. So the count stops at ``estimate_above + 1`` rows (``SELECT count(*)
    FROM (… LIMIT n)``): a short list (a queue, a search) is counted exactly, and a longer one is sized by the
    planner's estimate: ``pg_class.reltuples`` for a whole table (the sum over its partitions for a partitioned
    one), the row estimate of the query's plan when it is filtered. Those are refreshed by autovacuum and close
    enough to size the page links; the page itself is always read exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not isinstance(object_list, QuerySet) or connections[object_list.db].vendor != "postgresql":
            return super().count
        if not object_list.query.where:
            estimate = _estimated_rows(object_list)
            if estimate is not None and estimate > self.estimate_above:
                return estimate
        counted = object_list.order_by()[: self.estimate_above + 1].count()
        if counted <= self.estimate_above:
            return counted
        estimate = _estimated_rows(object_list) if not object_list.query.where else _planned_rows(object_list)
        return max(estimate or 0, counted)


def _estimated_rows(object_list) -> int | None:
    """The planner's row count of the queryset's whole table; None when unknown (never analysed) or filtered."""
    if not isinstance(object_list, QuerySet) or object_list.query.where:
        return None
    connection = connections[object_list.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        # A partitioned table holds no rows itself: its partitions' estimates are summed.
        cursor.execute(
            "SELECT CASE WHEN parent.relkind = 'p' THEN "
            "(SELECT sum(greatest(child.reltuples, 0)) FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid WHERE pg_inherits.inhparent = parent.oid) "
            "ELSE parent.reltuples END FROM pg_class parent WHERE parent.oid = to_regclass(%s)",
            [object_list.model._meta.db_table],
        )
        row = cursor.fetchone()
    # -1 (or nothing) means the table was never analysed: the estimate is unknown.
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def _planned_rows(object_list: QuerySet) -> int | None:
    """The planner's estimate of how many rows a filtered queryset returns (EXPLAIN, nothing is executed)."""
    import json

    plan = object_list.order_by().explain(format="json")
    try:
        return int(json.loads(plan)[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class ExactSearchAdminMixin:
    """Admin search by exact identifiers, answered by the tables' indexes.

    Django's ``=field`` search compares ``UPPER(field::text)``, which no plain index serves, and a field without a
    prefix is a LIKE over the whole column: at millions of rows either reads the whole table. Here every search
    field (written ``=field``, Django's sign for an exact match) is compared on its own type — a number for an id,
    the text as typed or in capitals for a code — so the field's btree index answers. A term that cannot be a value
    of a field (letters for an id) is not looked for in that field; a term that no field can hold finds nothing.
    Several terms must all match, as in Django's search.
    """

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        paths = [name.removeprefix("=") for name in self.get_search_fields(request)]
        terms = search_term.split()
        if not paths or not terms:
            return queryset, False
        condition = models.Q()
        for term in terms:
            matches = models.Q()
            for path in paths:
                matches |= _exact_match(queryset.model, path, term)
            condition &= matches
        return queryset.filter(condition), False


def _exact_match(model, path: str, term: str) -> models.Q:
    """``path`` equal to ``term``, as a condition on ``model``'s own columns.

    A field across a relation (``merchant__credit_code``) is looked up first, in its own indexed query, and becomes
    ``merchant__in=[ids]``: conditions on two tables OR-ed together would keep PostgreSQL from using either index.
    """
    values = _exact_values(model, path, term)
    if not values:
        return models.Q(pk__in=[])
    relation, _sep, rest = path.partition("__")
    field = model._meta.get_field(relation)
    if not rest or not field.is_relation:
        return models.Q(**{f"{path}__in": values})
    related = field.related_model
    if rest in ("pk", related._meta.pk.name):
        return models.Q(**{f"{relation}__in": values})
    ids = list(related._default_manager.filter(**{f"{rest}__in": values}).values_list("pk", flat=True)[:1000])
    return models.Q(**{f"{relation}__in": ids})


def _exact_values(model, path: str, term: str) -> list:
    field = _field_at(model, path)
    values = []
    for candidate in dict.fromkeys([term, term.upper()]):
        try:
            value = field.to_python(candidate)
            field.run_validators(value)
        except (ValidationError, ValueError, TypeError):
            continue
        if value not in values:
            values.append(value)
    return values


def _field_at(model, path: str):
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    field = model._meta.get_field(name)
    # A foreign key's value is its target's primary key.
    return field.target_field if field.is_relation else field
