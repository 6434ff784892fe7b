"""Sample uploads built in memory: valid scans, hostile files and a business licence to OCR.

Nothing binary is committed; each test builds what it needs from these functions.
"""

import io
import re
import struct
import zlib
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from merchants.choices import DocumentKind
from merchants.models import KycDocument, Merchant

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Index 2 of the collection is the Simplified Chinese face ("Noto Sans CJK SC").
CJK_FONT_INDEX = 2


def png_bytes(size: tuple[int, int] = (64, 40), colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "lightblue").save(buffer, format="JPEG")
    return buffer.getvalue()


def pdf_bytes(extra_objects: bytes = b"", trailer_extra: bytes = b"") -> bytes:
    """A small, well-formed one-page PDF; ``extra_objects`` is spliced in before the cross-reference table.

    The table lists every ``N 0 obj`` found in the body at its offset, as a viewer expects.
    """
    body = (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n" + extra_objects
    )
    offsets = {int(m.group(1)): m.start() for m in re.finditer(rb"(?m)^(\d+) 0 obj", body)}
    size = max(offsets) + 1
    rows = [b"0000000000 65535 f \n"] + [
        (b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 65535 f \n" for n in range(1, size)
    ]
    xref = b"xref\n0 %d\n" % size + b"".join(rows)
    trailer = b"trailer << /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer_extra, len(body))
    return body + xref + trailer


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def licence_png(
    *, legal_name: str = "杭州甲商贸有限公司", credit_code: str = "91330100799655058B", layout: str = "lines"
) -> bytes:
    """A business licence as a photo would show its main lines, drawn in Noto Sans CJK SC.

    ``layout``: ``lines`` (each label and its value on a line), ``colon`` (the same, "名称：…" with full-width colons),
    or ``columns`` (the current national format: the code in the top corner, then a column of labels spaced out
    with full-width spaces beside a column of values, and a second pair of columns to the right).
    """
    if layout == "columns":
        return _licence_in_columns(legal_name=legal_name, credit_code=credit_code)
    title = ImageFont.truetype(str(CJK_FONT), 64, index=CJK_FONT_INDEX)
    body = ImageFont.truetype(str(CJK_FONT), 36, index=CJK_FONT_INDEX)
    image = Image.new("RGB", (1400, 820), "white")
    draw = ImageDraw.Draw(image)
    draw.text((540, 50), "营业执照", font=title, fill="black")
    separator = "\uff1a" if layout == "colon" else " "
    lines = [
        f"统一社会信用代码{separator}{credit_code}",
        f"名称{separator}{legal_name}",
        f"类型{separator}有限责任公司",
        f"法定代表人{separator}张三",
        f"成立日期{separator}2019年03月01日",
        f"住所{separator}浙江省杭州市西湖区文三路1号",
    ]
    for row, line in enumerate(lines):
        draw.text((100, 200 + row * 80), line, font=body, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _licence_in_columns(*, legal_name: str, credit_code: str) -> bytes:
    title = ImageFont.truetype(str(CJK_FONT), 64, index=CJK_FONT_INDEX)
    body = ImageFont.truetype(str(CJK_FONT), 36, index=CJK_FONT_INDEX)
    small = ImageFont.truetype(str(CJK_FONT), 28, index=CJK_FONT_INDEX)
    image = Image.new("RGB", (1600, 1000), "white")
    draw = ImageDraw.Draw(image)
    draw.text((80, 60), "统一社会信用代码", font=small, fill="black")
    draw.text((80, 100), credit_code, font=small, fill="black")
    draw.text((640, 60), "营业执照", font=title, fill="black")
    left = [
        ("名\u3000\u3000称", legal_name),
        ("类\u3000\u3000型", "有限责任公司(自然人投资或控股)"),
        ("法定代表人", "张三"),
        ("经营范围", "日用百货、食品销售"),
    ]
    right = [
        ("注册资本", "伍拾万元整"),
        ("成立日期", "2019年03月01日"),
        ("住\u3000\u3000所", "浙江省杭州市西湖区文三路1号"),
    ]
    for column, rows in ((100, left), (900, right)):
        for row, (label, value) in enumerate(rows):
            draw.text((column, 260 + row * 80), label, font=body, fill="black")
            draw.text((column + (230 if column == 100 else 200), 260 + row * 80), value, font=body, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def add_required_documents(merchant: Merchant) -> list[KycDocument]:
    """Give a merchant the three documents KYC needs, stored like real uploads."""
    documents = []
    for kind in DocumentKind.values:
        document = KycDocument(
            merchant=merchant,
            kind=kind,
            content_type="image/png",
            extension="png",
            size=0,
            sha256="0" * 64,
            original_name=f"{kind}.png",
            uploaded_by=merchant.owner,
        )
        data = png_bytes()
        document.size = len(data)
        document.file.save("upload", ContentFile(data), save=False)
        document.save()
        documents.append(document)
    return documents
