# Placeholder until the sales-history work fills it in.
from django.views.generic import TemplateView


class SalesImportView(TemplateView):
    template_name = "base.html"
