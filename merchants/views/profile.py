# Placeholder until the KYC work fills it in.
from django.views.generic import TemplateView


class ProfileEditView(TemplateView):
    template_name = "base.html"


DocumentUploadView = DocumentDownloadView = KycSubmitView = ProfileEditView
