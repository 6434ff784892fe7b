"""HTML to PDF with WeasyPrint: contracts, statements and every other document the portal prints.

Speed: fonts are named, never downloaded (``font-family: "Noto Sans CJK SC"`` resolves through fontconfig to the
system's Noto CJK, which Debian's ``fonts-noto-cjk`` provides), stylesheets are inline, and one
``FontConfiguration`` is kept for the process, so fontconfig is set up once rather than for every document.
``bench/contracts.py`` measures the contract pipeline against a bare WeasyPrint render.
"""

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# Documents are printed in Simplified Chinese (lang="zh-CN"), the language of the contract that binds.
DOCUMENT_LANGUAGE = "zh-hans"

FONT_FAMILY = "Noto Sans CJK SC"


# WeasyPrint's font configuration wraps fontconfig and Pango objects that are not safe to share between threads
# rendering at the same moment; Celery's prefork workers never do, a threaded server in development might.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class RenderedPdf:
    pdf: bytes
    page_count: int


@functools.cache
def font_configuration():
    """The process's one WeasyPrint ``FontConfiguration`` (made on first use: importing WeasyPrint is slow)."""
    import weasyprint  # noqa: F401
    from PIL import ImageFile
    from weasyprint.text.fonts import FontConfiguration

    # Importing WeasyPrint tells Pillow, process-wide, to accept cut-off images. Contracts embed no images,
    # and the same process checks merchants' uploads, which must refuse cut-off images: restore Pillow's rule.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return FontConfiguration()


def _local_only_url_fetcher(url: str, *args, **kwargs):
    """Refuse every fetch but local files: a contract must never depend on, or call out to, the network."""
    from weasyprint import default_url_fetcher

    if not url.startswith(("file:", "data:")):
        raise ValueError(f"Contracts load no remote resources: {url}")
    return default_url_fetcher(url, *args, **kwargs)


def html_to_pdf(html: str, *, base_url: str | None = None) -> RenderedPdf:
    """Render ``html`` with WeasyPrint and the shared font configuration."""
    from weasyprint import HTML

    font_config = font_configuration()
    base = base_url or Path(settings.BASE_DIR, "static").as_uri() + "/"
    with _render_lock:
        document = HTML(string=html, base_url=base, url_fetcher=_local_only_url_fetcher).render(font_config=font_config)
        pdf = document.write_pdf()
    return RenderedPdf(pdf=pdf, page_count=len(document.pages))
