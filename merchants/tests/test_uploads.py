"""KYC uploads are judged by their bytes; everything else is refused with a reason."""

import hashlib
import io
import os
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image

from merchants.services.uploads import document_inspect
from merchants.tests.files.samples import jpeg_bytes, pdf_bytes, png_bytes, png_claiming_size, upload


def refusal(uploaded) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        document_inspect(uploaded)
    return caught.value


def refusal_text(uploaded) -> str:
    return " ".join(refusal(uploaded).messages)


def noisy_png(size=(120, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


# What is accepted, and what is recorded about it.


def test_png_is_accepted_and_described_by_its_content():
    data = png_bytes()
    inspected = document_inspect(upload("营业执照.png", data))
    assert inspected.content_type == "image/png"
    assert inspected.extension == "png"
    assert inspected.size == len(data)
    assert inspected.sha256 == hashlib.sha256(data).hexdigest()
    assert inspected.original_name == "营业执照.png"


def test_jpeg_named_like_a_pdf_is_recorded_as_the_jpeg_it_is():
    inspected = document_inspect(upload("scan.pdf", jpeg_bytes()))
    assert (inspected.content_type, inspected.extension) == ("image/jpeg", "jpg")


def test_plain_pdf_is_accepted():
    inspected = document_inspect(upload("licence.pdf", pdf_bytes()))
    assert (inspected.content_type, inspected.extension) == ("application/pdf", "pdf")


def test_file_is_left_at_the_start_for_storing():
    uploaded = upload("id.png", png_bytes())
    document_inspect(uploaded)
    assert uploaded.read(8) == b"\x89PNG\r\n\x1a\n"


def test_dotted_name_that_is_not_a_double_extension_is_accepted():
    assert document_inspect(upload("营业执照.2024.png", png_bytes())).original_name == "营业执照.2024.png"


def test_control_characters_are_removed_from_the_display_name():
    assert document_inspect(upload("lic\u202eence\x07.png", png_bytes())).original_name == "licence.png"


# The corpus that is refused.


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("licence.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        ("licence.pdf", b"PK\x03\x04" + b"\x00" * 100),  # a zip (docx) renamed
        ("licence.jpg", b"MZ\x90\x00" + b"\x00" * 100),  # a Windows executable renamed
        ("notes.png", "营业执照 名称 杭州甲商贸有限公司".encode()),
    ],
)
def test_wrong_magic_bytes_are_refused_whatever_the_name(name, data):
    assert refusal_text(upload(name, data)) == (
        "This file is not a PDF, PNG or JPEG. Upload a scan or a photo in one of those formats."
    )


def test_oversize_file_is_refused_with_the_limit_in_mb(settings):
    settings.KYC_DOCUMENT_MAX_BYTES = 1024 * 1024
    data = png_bytes() + b"\x00" * (1536 * 1024)
    error = refusal(upload("big.png", data))
    assert error.code == "too_large"
    assert "This file is 1.5 MB; the limit is 1 MB." in " ".join(error.messages)


def test_empty_file_is_refused():
    assert refusal_text(upload("empty.png", b"")) == "The file is empty."


def test_svg_with_script_named_png_is_refused_as_svg():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    error = refusal(upload("licence.png", svg))
    assert error.code == "svg"
    assert "SVG images are not accepted because they can contain scripts" in " ".join(error.messages)


def test_jpeg_that_also_carries_a_pdf_is_refused_as_a_polyglot():
    polyglot = jpeg_bytes() + pdf_bytes()
    error = refusal(upload("photo.jpg", polyglot))
    assert error.code == "polyglot"
    assert "This JPEG also contains a PDF document" in " ".join(error.messages)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"<script>fetch('/admin/')</script>", "a script"),
        (b"<html><body>hi</body></html>", "an HTML page"),
        (b"<?php system($_GET['c']); ?>", "PHP code"),
    ],
)
def test_png_with_markup_or_code_inside_is_refused_as_a_polyglot(payload, what):
    data = png_bytes()
    # Hide the payload in a text chunk before IEND, where a naive check would not look.
    chunk = b"tEXt" + b"Comment\x00" + payload
    text_chunk = len(chunk[4:]).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    hostile = data[:-12] + text_chunk + data[-12:]
    assert f"This PNG also contains {what}" in refusal_text(upload("id.png", hostile))


@pytest.mark.parametrize(
    ("action", "what"),
    [
        (b"4 0 obj << /Type /Action /S /JavaScript /JS (app.alert(1)) >> endobj\n", "JavaScript"),
        (b"4 0 obj << /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >> endobj\n", "JavaScript"),
        (b"4 0 obj << /Type /Action /S /Launch /F (cmd.exe) >> endobj\n", "a Launch action"),
        (b"4 0 obj << /Type /EmbeddedFile /Length 3 >> stream\nabc\nendstream endobj\n", "an embedded file"),
    ],
)
def test_pdf_with_active_content_is_refused(action, what):
    error = refusal(upload("licence.pdf", pdf_bytes(action)))
    assert error.code == "pdf_active_content"
    assert f"This PDF contains {what}, which is not accepted." in " ".join(error.messages)


def test_pdf_hiding_javascript_in_a_compressed_object_stream_is_refused():
    hidden = zlib.compress(b"5 0 << /S /JavaScript /JS (app.alert(1)) >>")
    object_stream = (
        b"4 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(hidden)).encode()
        + b" >>\nstream\n"
        + hidden
        + b"\nendstream\nendobj\n"
    )
    assert "This PDF contains JavaScript" in refusal_text(upload("licence.pdf", pdf_bytes(object_stream)))


def test_pdf_that_contains_html_script_is_refused_as_a_polyglot():
    assert "This PDF also contains a script" in refusal_text(
        upload("licence.pdf", pdf_bytes(b"% <script>alert(1)</script>\n"))
    )


def test_password_protected_pdf_is_refused():
    encrypted = pdf_bytes(b"9 0 obj << /Filter /Standard /V 2 /R 3 >> endobj\n", trailer_extra=b"/Encrypt 9 0 R ")
    assert "Password-protected PDFs cannot be reviewed" in refusal_text(upload("licence.pdf", encrypted))


def test_pdf_cut_off_before_its_end_marker_is_refused():
    data = pdf_bytes()
    assert "This PDF is incomplete" in refusal_text(upload("licence.pdf", data[: len(data) - 8]))


def test_path_in_the_name_is_refused():
    hostile = File(io.BytesIO(png_bytes()), name="../../media/kyc/1/licence.png")
    error = refusal(hostile)
    assert error.code == "path_in_name"
    assert "must not contain folders" in " ".join(error.messages)


@pytest.mark.parametrize("name", ["licence.pdf.exe", "licence.exe.pdf", "id.php.png"])
def test_double_extension_is_refused(name):
    data = pdf_bytes() if name.endswith(".pdf") else png_bytes()
    assert refusal_text(upload(name, data)) == (
        f"The file name “{name}” has more than one extension. Rename it so that it ends only in .pdf, .png or .jpg."
    )


def test_name_ending_in_an_executable_extension_is_refused_even_with_png_content():
    assert refusal_text(upload("licence.exe", png_bytes())) == (
        "Files ending in “.exe” are not accepted. Upload a PDF, PNG or JPEG."
    )


def test_truncated_png_is_refused_as_damaged():
    data = noisy_png()
    error = refusal(upload("id.png", data[: len(data) // 2]))
    assert error.code == "damaged"
    assert "This image could not be read completely" in " ".join(error.messages)


def test_truncated_jpeg_is_refused_as_damaged():
    buffer = io.BytesIO()
    Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3)).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    assert refusal(upload("id.jpg", data[: len(data) // 2])).code == "damaged"


def test_png_with_corrupt_pixel_data_is_refused_as_damaged():
    data = bytearray(noisy_png())
    start = data.index(b"IDAT") + 200
    data[start : start + 64] = b"\x00" * 64
    assert refusal(upload("id.png", bytes(data))).code == "damaged"


def test_decompression_bomb_is_refused_without_decoding_it():
    error = refusal(upload("bomb.png", png_claiming_size(100_000, 100_000)))
    assert error.code == "decompression_bomb"
    assert "too many pixels to be processed safely" in " ".join(error.messages)


def test_image_just_over_pillows_limit_is_refused(monkeypatch):
    # Between Pillow's limit and twice the limit Pillow only warns; that is refused too.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 40 - 1)
    assert refusal(upload("id.png", png_bytes((64, 40)))).code == "decompression_bomb"
