"""One intermediate page for back-office actions that move money or a merchant's state, like Django's delete
confirmation: it lists what the action will touch, says what will happen, and asks for a note for the record.

``confirmed_note(...)`` returns the officer's note once the page was confirmed (a POST carrying ``confirm`` and a
valid note), and otherwise the page to show; the same call serves a changelist action (the page posts the action
and the selected rows back) and a button on one object's page (the page posts back to the button's URL).
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib.admin import ModelAdmin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

NOTE_MAX_LENGTH = 2000


class ConfirmNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note for the record"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why you are doing this; it is kept in the audit trail with your name."),
    )


def confirmed_note(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    rows: Iterable[object],
    *,
    action: str | None,
    title: str,
    what: str,
    submit_label: str,
) -> str | TemplateResponse:
    """The note when the officer confirmed on the intermediate page; else the page (first view, or a missing note)."""
    form = ConfirmNoteForm(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        return form.cleaned_data["note"].strip()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "rows": list(rows),
        "what": what,
        "form": form,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "submit_label": submit_label,
    }
    return TemplateResponse(request, "admin/confirm_action.html", context, status=400 if form.is_bound else 200)


__all__ = ["ConfirmNoteForm", "confirmed_note"]
