from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self) -> None:
        # Pillow's decompression-bomb guard defaults to about 89 megapixels; the portal decodes only document
        # photos, so the guard is set to the same budget the upload check applies (merchants.services.uploads).
        from django.conf import settings
        from PIL import Image

        from merchants import checks  # noqa: F401 - registers the app's system checks

        Image.MAX_IMAGE_PIXELS = settings.KYC_IMAGE_MAX_PIXELS
