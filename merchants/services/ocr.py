"""Reading the legal name and the credit code off a photo of a business licence.

The result is only a suggestion: the merchant confirms it in the profile form. Tesseract runs as a
subprocess with a time limit and one thread, on a grayscale copy scaled down to a size that keeps
the characters legible, so that a large phone photo takes about a second rather than ten.
"""

import io
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps

from merchants.validators import normalise_code, validate_credit_code

# A module attribute, not a setting, so that tests (and a packager with another path) can replace it.
TESSERACT_COMMAND = "tesseract"
LANGUAGES = "chi_sim+eng"
# Licence text is large; 2000 px on the long side keeps it legible while bounding tesseract's work.
MAX_SIDE_PIXELS = 2000

_CJK = r"\u3400-\u9fff\uf900-\ufaff"
# Tesseract often puts spaces between Chinese characters ("名 称 杭 州"); they carry no meaning.
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
# \uff1a is the full-width colon that Chinese text uses.
_NAME_LINE = re.compile("^(?:企业)?名\\s*称\\s*[:\uff1a]?\\s*(?P<value>.+)$")
_CODE_LABEL = re.compile(r"(?:统一)?社会信用代码|信用代码")
_CODE_TOKEN = re.compile(r"[0-9A-Z]{18}")
# The code's alphabet has no I, O, S, V or Z, so when OCR reads one of these it meant the look-alike digit.
_OCR_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "S": "5", "Z": "2"})


class OcrUnavailableError(Exception):
    """Tesseract is not installed, is switched off, failed or took too long."""


@dataclass(frozen=True)
class LicenceReading:
    legal_name: str = ""
    credit_code: str = ""
    # False when OCR found 18 characters whose check character does not add up: it misread something.
    credit_code_checks: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def ocr_available() -> bool:
    return bool(settings.OCR_ENABLED and shutil.which(TESSERACT_COMMAND))


def licence_image_text(image_bytes: bytes) -> str:
    """Run tesseract on a licence photo and return the text it read."""
    if not ocr_available():
        raise OcrUnavailableError("tesseract is not installed or OCR is disabled")
    with Image.open(io.BytesIO(image_bytes)) as image:
        # A JPEG can be decoded at a fraction of its size: never decode more pixels than tesseract will get.
        image.draft("L", (MAX_SIDE_PIXELS, MAX_SIDE_PIXELS))
        # Phone photos carry their rotation in EXIF; tesseract needs upright text.
        prepared = ImageOps.exif_transpose(image).convert("L")
    prepared.thumbnail((MAX_SIDE_PIXELS, MAX_SIDE_PIXELS))
    buffer = io.BytesIO()
    prepared.save(buffer, format="PNG")
    try:
        completed = subprocess.run(
            [TESSERACT_COMMAND, "stdin", "stdout", "-l", LANGUAGES],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=settings.OCR_TIMEOUT_SECONDS,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrUnavailableError(str(exc)) from exc
    if completed.returncode != 0:
        raise OcrUnavailableError(completed.stderr.decode("utf-8", "replace")[-500:])
    return completed.stdout.decode("utf-8", "replace")


def licence_reading_from_text(text: str) -> LicenceReading:
    """Find the 名称 (legal name) line and the 统一社会信用代码 (credit code) in OCR output."""
    lines = [_SPACE_BETWEEN_CJK.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]

    legal_name = ""
    for line in lines:
        match = _NAME_LINE.match(line)
        if match:
            legal_name = match.group("value").strip(" :\uff1a")
            break

    credit_code = _credit_code_from_lines(lines)
    checks = False
    if credit_code:
        try:
            validate_credit_code(credit_code)
            checks = True
        except ValidationError:
            checks = False
    return LicenceReading(legal_name=legal_name, credit_code=credit_code, credit_code_checks=checks)


def _credit_code_from_lines(lines: list[str]) -> str:
    # Prefer the characters right after the label; otherwise any 18-character token on the licence.
    for index, line in enumerate(lines):
        label = _CODE_LABEL.search(line)
        if not label:
            continue
        following = line[label.end() :] + "".join(lines[index + 1 : index + 2])
        candidate = normalise_code(re.sub(r"[^0-9A-Za-z]", "", following)).translate(_OCR_LOOKALIKES)
        if len(candidate) >= 18:
            return candidate[:18]
    for line in lines:
        token = _CODE_TOKEN.search(normalise_code(line).translate(_OCR_LOOKALIKES))
        if token:
            return token.group(0)
    return ""


def licence_read(image_bytes: bytes) -> LicenceReading:
    """Read a business licence photo; raises ``OcrUnavailableError`` when OCR cannot run."""
    return licence_reading_from_text(licence_image_text(image_bytes))
