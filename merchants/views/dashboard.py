# Placeholder until the sales-history work fills it in.
from django.views.generic import TemplateView


class DashboardView(TemplateView):
    template_name = "base.html"
