"""The merchant adds sales it took elsewhere, as a CSV file: recorded as declared, never as platform sales.

The platform's own figures arrive from its settlement feed; nothing on this page can write, replace or remove
them. A form that asks for another source (a hand-edited request) is refused with the reason, and nothing is saved.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from merchants.choices import SalesSource
from merchants.services.sales import merchant_for_user, sales_import_csv
from merchants.services.sales_csv import COLUMNS, MAX_DAYS_PER_IMPORT, SalesDataInvalid


class SalesImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Sales taken elsewhere (CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=gettext_lazy("Recorded as declared: officers see them with an application, limits do not use them."),
    )

    def clean(self):
        cleaned = super().clean()
        source = self.data.get("source", SalesSource.DECLARED)
        if source != SalesSource.DECLARED:
            raise forms.ValidationError(
                _(
                    "Only the payment platform's settlement feed writes platform sales. "
                    "Sales you add here are recorded as declared."
                ),
                code="sales_source_refused",
            )
        return cleaned


class SalesImportView(LoginRequiredMixin, FormView):
    template_name = "merchants/sales_import.html"
    form_class = SalesImportForm

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        # The merchant always comes from the signed-in user: nobody can import into another merchant.
        self.merchant = merchant_for_user(user=request.user)
        if self.merchant is None:
            raise PermissionDenied(_("Only a merchant's owner can declare sales, and this account has no merchant."))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            merchant=self.merchant,
            columns=COLUMNS,
            max_days=MAX_DAYS_PER_IMPORT,
            max_size=filesizeformat(settings.SALES_CSV_MAX_BYTES),
        )
        return context

    def form_valid(self, form):
        try:
            result = sales_import_csv(
                merchant=self.merchant,
                csv_file=form.cleaned_data["file"],
                by=self.request.user,
                source=SalesSource.DECLARED,
                batch_id="web",
            )
        except SalesDataInvalid as exc:
            return self.render_to_response(self.get_context_data(form=form, import_errors=exc))
        messages.success(
            self.request,
            _(
                "Declared %(total)d days from %(first)s to %(last)s: %(created)d new, %(replaced)d corrected, "
                "%(unchanged)d unchanged."
            )
            % {
                "total": result.total,
                "first": result.first_date.isoformat(),
                "last": result.last_date.isoformat(),
                "created": result.created,
                "replaced": result.replaced,
                "unchanged": result.unchanged,
            },
        )
        return redirect("merchants:dashboard")
