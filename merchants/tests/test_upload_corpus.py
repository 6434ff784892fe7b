"""The upload corpus: files built the way an attacker builds them, each refused with its reason (or, for
harmless oddities, accepted and stored under the server's own name).

Hidden-JavaScript PDFs in object streams (filter chains, long dictionaries, escaped names), polyglots, pixel
bombs declared in PNG and JPEG headers, SVG in disguise, and long, traversal and NUL-carrying names.
"""

import base64
import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image, ImageFile
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from merchants.choices import DocumentKind
from merchants.services.documents import document_upload
from merchants.services.uploads import document_inspect
from merchants.tests.files.samples import jpeg_bytes, pdf_bytes, png_bytes, png_claiming_size, upload


def refusal(name: str, data: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        document_inspect(upload(name, data))
    return caught.value


def object_stream(inner: bytes, *, filters: bytes, encode, dictionary_padding: int = 0, type_name=b"/ObjStm") -> bytes:
    """Object 4: an object stream holding object 5 (``inner``), encoded by ``encode`` and declared ``filters``."""
    content = b"5 0 " + inner
    encoded = encode(content)
    padding = b" /Padding (" + b"x" * dictionary_padding + b")" if dictionary_padding else b""
    return (
        b"4 0 obj << /Type " + type_name + b" /N 1 /First 4 /Filter " + filters + padding
        + b" /Length " + str(len(encoded)).encode() + b" >>\nstream\n" + encoded + b"\nendstream\nendobj\n"
    )  # fmt: skip


HIDDEN_JS = b"<< /S /JavaScript /JS (app.alert(document.cookie)) >>"


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(
            object_stream(
                HIDDEN_JS,
                filters=b"[/ASCIIHexDecode /FlateDecode]",
                encode=lambda data: zlib.compress(data).hex().encode() + b">",
            ),
            id="hex-then-flate chain",
        ),
        pytest.param(
            object_stream(HIDDEN_JS, filters=b"/FlateDecode", encode=zlib.compress, dictionary_padding=2000),
            id="dictionary longer than the scanner looks back",
        ),
        pytest.param(
            object_stream(
                HIDDEN_JS,
                filters=b"/FlateDecode",
                encode=zlib.compress,
                dictionary_padding=1000,
                type_name=b"/Obj#53tm",
            ),
            id="escaped ObjStm name",
        ),
        pytest.param(
            object_stream(HIDDEN_JS, filters=b"/ASCII85Decode", encode=lambda data: base64.a85encode(data) + b"~>"),
            id="ascii85",
        ),
    ],
)
def test_javascript_hidden_in_an_object_stream_is_found_after_decompressing_it(stream):
    error = refusal("licence.pdf", pdf_bytes(stream))

    assert error.code == "pdf_active_content"
    assert error.messages == [
        "This PDF contains JavaScript, which is not accepted. Print it to a new PDF or upload a photo."
    ]


@pytest.mark.parametrize(
    ("inner", "what"),
    [
        (b"<< /Type /Action /S /Launch /F (calc.exe) >>", "a Launch action"),
        (b"<< /Names [(a.exe) 6 0 R] /EmbeddedFiles 7 0 R >>", "an embedded file"),
        (b"<< /XFA 8 0 R >>", "an XFA form (it can run scripts)"),
    ],
)
def test_other_actions_hidden_in_a_padded_object_stream_are_refused(inner, what):
    stream = object_stream(inner, filters=b"/FlateDecode", encode=zlib.compress, dictionary_padding=2000)

    error = refusal("licence.pdf", pdf_bytes(stream))

    assert error.code == "pdf_active_content"
    assert f"This PDF contains {what}" in error.messages[0]


def test_a_pdf_made_by_a_library_with_document_javascript_is_refused():
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_open_action(JavaScript("app.alert('hi');"))
    buffer = io.BytesIO()
    writer.write(buffer)

    assert refusal("statement.pdf", buffer.getvalue()).code == "pdf_active_content"


def test_a_plain_pdf_made_by_a_library_is_accepted():
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)

    assert document_inspect(upload("licence.pdf", buffer.getvalue())).content_type == "application/pdf"


def test_a_pdf_no_reader_can_parse_is_refused_as_unreadable():
    data = b"%PDF-1.7\n" + b"\x00garbage" * 50 + b"\n%%EOF\n"

    error = refusal("licence.pdf", data)

    assert error.code == "damaged"
    assert error.messages[0].startswith("This PDF could not be read")


# Pixel bombs: refused from the header, before any pixel is decoded.


@pytest.fixture
def decoding_forbidden(monkeypatch):
    def refuse_to_decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", refuse_to_decode)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)


def jpeg_claiming_size(width: int, height: int) -> bytes:
    data = bytearray(jpeg_bytes((16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.usefixtures("decoding_forbidden")
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bomb.png", png_claiming_size(9000, 9000)),  # 81 megapixels in about a kilobyte
        ("bomb.jpg", jpeg_claiming_size(9000, 9000)),
        ("wide.png", png_claiming_size(1_000_000, 26)),
    ],
)
def test_images_above_the_pixel_budget_are_refused_before_decoding(name, data):
    error = refusal(name, data)

    assert error.code == "decompression_bomb"
    assert error.messages == [
        "This image has too many pixels to be processed safely (the limit is 25 megapixels). "
        "Take the photo at a lower resolution or scale it down."
    ]


def test_the_pixel_budget_is_a_setting_and_pillows_own_limit_is_set_to_it(settings):
    assert Image.MAX_IMAGE_PIXELS == settings.KYC_IMAGE_MAX_PIXELS == 25_000_000
    settings.KYC_IMAGE_MAX_PIXELS = 64 * 40 - 1

    assert refusal("id.png", png_bytes((64, 40))).code == "decompression_bomb"


# Polyglots and SVG.


def test_a_png_with_a_zip_archive_after_its_end_is_refused_as_a_polyglot():
    error = refusal("id.png", png_bytes() + b"PK\x03\x04" + b"\x00" * 40)

    assert error.code == "polyglot"
    assert "This PNG also contains data after the end of the image" in error.messages[0]


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'\xef\xbb\xbf  <?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    ],
)
@pytest.mark.parametrize("name", ["licence.svg", "licence.png"])
def test_svg_is_refused_whatever_it_is_called(name, data):
    error = refusal(name, data)

    assert error.code in {"svg", "extension"}
    assert "SVG" in error.messages[0] or ".svg" in error.messages[0]


# Names.


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.png", "..\\..\\windows\\win.ini.png", "/var/www/licence.png", "licence.png\x00.exe", ".."],
)
def test_names_that_reach_outside_a_folder_are_refused(name):
    # A File keeps the name exactly as given (Django's upload handler would already strip folders).
    with pytest.raises(ValidationError) as caught:
        document_inspect(File(io.BytesIO(png_bytes()), name=name))

    assert caught.value.code == "path_in_name"


@pytest.mark.django_db
def test_a_very_long_name_is_shortened_for_display_and_never_used_to_store_the_file(merchant):
    long_name = "营业执照" * 200 + ".png"

    document = document_upload(
        merchant=merchant,
        kind=DocumentKind.ID_FRONT,
        uploaded_file=upload(long_name, png_bytes()),
        by=merchant.owner,
    )

    assert len(document.original_name) == 200
    assert document.original_name.endswith(".png")
    assert "营业执照" not in document.file.name
    assert document.file.name.startswith(f"kyc/{merchant.pk}/")
