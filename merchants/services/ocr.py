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
# Tesseract puts a single space between Chinese characters ("名 称 杭 州"); it carries no meaning. A run of two or
# more spaces is the gap between a licence's columns, and is kept as the end of a value.
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[ \u3000](?=[{_CJK}])")
_COLUMN_GAP = re.compile(r"\s{2,}")
# The labels printed on a licence, in both its layouts (one line "名称：…", or a column of labels beside a column of
# values). \uff1a is the full-width colon that Chinese text uses.
_NAME_LABEL = re.compile("^(?:企业|市场主体|商户)?名\\s*称\\s*[:\uff1a]?\\s*")
_OTHER_LABELS = re.compile(
    "(?:统一社会信用代码|类型|法定代表人|负责人|经营者|经营范围|注册资本|成立日期|营业期限|住所|经营场所|登记机关|组成形式)"
)
# What a business's name ends with; the last resort when the name's label was not read.
_NAME_ENDING = re.compile(
    rf"[{_CJK}（）()]{{2,}}(?:有限责任公司|股份有限公司|有限公司|公司|商行|经营部|工作室|门市部|店|厂|中心)$"
)
_CODE_LABEL = re.compile(r"(?:统一)?社会信用代码|信用代码")
_CODE_TOKEN = re.compile(r"[0-9A-Z]{18}")
# The code's alphabet has no I, O, S, V or Z, so when OCR reads one of these it meant the look-alike digit.
_OCR_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "S": "5", "Z": "2"})
# Lines after the code's label where the code may be printed (below it, on a two-column licence).
_CODE_LINES_AFTER_LABEL = 2


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
    """Find the 名称 (legal name) and the 统一社会信用代码 (credit code) in OCR output, whether the licence prints
    each label and its value on one line, or a column of labels beside a column of values."""
    lines = [_SPACE_BETWEEN_CJK.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    credit_code = _credit_code_from_lines(lines)
    checks = False
    if credit_code:
        try:
            validate_credit_code(credit_code)
            checks = True
        except ValidationError:
            checks = False
    return LicenceReading(legal_name=_legal_name_from_lines(lines), credit_code=credit_code, credit_code_checks=checks)


def _value(text: str) -> str:
    """A value up to the gap before the next column, or the next label if OCR closed the gap."""
    value = _COLUMN_GAP.split(text.strip(" :\uff1a"), maxsplit=1)[0]
    label = _OTHER_LABELS.search(value)
    return (value[: label.start()] if label else value).strip(" :\uff1a")


def _legal_name_from_lines(lines: list[str]) -> str:
    for index, line in enumerate(lines):
        label = _NAME_LABEL.match(line)
        if not label:
            continue
        value = _value(line[label.end() :])
        if value:
            return value
        # The label alone on its line: its value is printed (or read) on the next line that is not a label.
        for following in lines[index + 1 : index + 3]:
            if not _OTHER_LABELS.match(following):
                return _value(following)
    # No label was read: the first value that ends as a business's name does.
    for line in lines:
        for part in _COLUMN_GAP.split(line):
            candidate = part.strip(" :\uff1a")
            if _NAME_ENDING.search(candidate) and not _OTHER_LABELS.search(candidate):
                return candidate
    return ""


def _code_candidates(text: str) -> list[str]:
    cleaned = re.sub(r"[^0-9A-Z]", "", normalise_code(text).translate(_OCR_LOOKALIKES))
    return [cleaned[start : start + 18] for start in range(len(cleaned) - 17)]


def _checks(code: str) -> bool:
    try:
        validate_credit_code(code)
    except ValidationError:
        return False
    return True


def _credit_code_from_lines(lines: list[str]) -> str:
    """The code after its label (on the same line or the next ones), one whose check character adds up first;
    otherwise any 18 characters that look like a code, flagged by the caller as not checking."""
    near_label: list[str] = []
    for index, line in enumerate(lines):
        label = _CODE_LABEL.search(line)
        if not label:
            continue
        for text in [line[label.end() :], *lines[index + 1 : index + 1 + _CODE_LINES_AFTER_LABEL]]:
            # Each line on its own: a code never runs from one line into another's noise.
            for part in _COLUMN_GAP.split(text):
                near_label.extend(_code_candidates(part))
    everywhere = [
        candidate for line in lines for part in _COLUMN_GAP.split(line) for candidate in _code_candidates(part)
    ]
    for candidates in (near_label, everywhere):
        for candidate in candidates:
            if _checks(candidate):
                return candidate
    for candidates in (near_label, everywhere):
        for candidate in candidates:
            if _CODE_TOKEN.fullmatch(candidate) and candidate[0].isdigit():
                return candidate
    return near_label[0] if near_label else ""


def licence_read(image_bytes: bytes) -> LicenceReading:
    """Read a business licence photo; raises ``OcrUnavailableError`` when OCR cannot run."""
    return licence_reading_from_text(licence_image_text(image_bytes))
