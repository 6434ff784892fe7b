"""Reading the legal name and credit code off a business licence photo with tesseract."""

import io
import stat

import pytest
from PIL import Image

from merchants.services import ocr
from merchants.services.ocr import OcrUnavailableError, licence_read, licence_reading_from_text
from merchants.tests.files.samples import licence_png


def test_generated_licence_yields_its_name_and_credit_code():
    reading = licence_read(licence_png())
    assert reading.credit_code == "91330100799655058B"
    assert reading.credit_code_checks is True
    assert reading.legal_name == "杭州甲商贸有限公司"


def test_a_licence_with_a_column_of_labels_beside_its_values_yields_the_name_and_the_code():
    # The current national layout: the code in the top corner, "名　　称" in a column of labels, and a second pair
    # of columns to the right that OCR reads on the same line as the name.
    reading = licence_read(licence_png(layout="columns"))

    assert reading.legal_name == "杭州甲商贸有限公司"
    assert reading.credit_code == "91330100799655058B"
    assert reading.credit_code_checks is True


def test_a_licence_with_each_label_and_value_on_one_line_yields_the_name_and_the_code():
    reading = licence_read(
        licence_png(legal_name="苏州乙餐饮管理有限公司", credit_code="9144030071526726XG", layout="colon")
    )

    assert reading.legal_name == "苏州乙餐饮管理有限公司"
    assert reading.credit_code == "9144030071526726XG"
    assert reading.credit_code_checks is True


def test_a_name_read_below_its_label_is_found():
    reading = licence_reading_from_text("名\u3000\u3000称\n杭州甲商贸有限公司\n类\u3000\u3000型\n有限责任公司\n")

    assert reading.legal_name == "杭州甲商贸有限公司"


def test_a_name_whose_label_was_not_read_is_found_by_how_it_ends():
    reading = licence_reading_from_text("BERRA KE\n杭州甲商贸有限公司      注册资本 伍拾万元整\n")

    assert reading.legal_name == "杭州甲商贸有限公司"


def test_a_code_is_not_taken_from_the_noise_beside_its_label():
    # OCR read a smudge after the label; the code is on the next line, with the title's ink beside it.
    reading = licence_reading_from_text(
        "统一社会信用代码           ==     Pz]\n91330100799655058B            = 业执照\n"
    )

    assert reading.credit_code == "91330100799655058B"
    assert reading.credit_code_checks is True


def test_large_phone_photo_is_scaled_down_and_still_read():
    # A 4200 px wide photo is scaled to 2000 px before OCR; the text must stay legible.
    with Image.open(io.BytesIO(licence_png(credit_code="9144030071526726XG"))) as small:
        big = small.resize((small.width * 3, small.height * 3))
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=90)
    reading = licence_read(buffer.getvalue())
    assert reading.credit_code == "9144030071526726XG"
    assert reading.credit_code_checks is True


def test_code_whose_check_character_fails_is_returned_flagged():
    reading = licence_read(licence_png(credit_code="91330100799655058C"))
    assert reading.credit_code == "91330100799655058C"
    assert reading.credit_code_checks is False


def test_spaces_tesseract_puts_between_chinese_characters_are_ignored():
    # \uff1a is the full-width colon printed on licences.
    text = "营 业 执 照\n统 一 社 会 信 用 代 码 9133 0100 7996 5505 8B\n名 称 \uff1a 杭 州 甲 商 贸 有 限 公 司\n"
    reading = licence_reading_from_text(text)
    assert reading.legal_name == "杭州甲商贸有限公司"
    assert reading.credit_code == "91330100799655058B"
    assert reading.credit_code_checks is True


def test_letters_ocr_confuses_with_digits_are_read_as_the_digits():
    # O, I, S and Z never occur in a credit code: they are misread 0, 1, 5 and 2.
    reading = licence_reading_from_text("统一社会信用代码 9I33O1OO7996SSO58B\n名称 甲公司")
    assert reading.credit_code == "91330100799655058B"
    assert reading.credit_code_checks is True


def test_code_without_its_label_is_still_found():
    reading = licence_reading_from_text("some header\n91350100M000100Y43\n")
    assert reading.credit_code == "91350100M000100Y43"
    assert reading.legal_name == ""


def test_text_without_a_code_gives_empty_suggestions():
    reading = licence_reading_from_text("a photo of a cat")
    assert (reading.legal_name, reading.credit_code, reading.credit_code_checks) == ("", "", False)


def test_missing_tesseract_makes_ocr_unavailable(monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", "/nonexistent/tesseract")
    assert ocr.ocr_available() is False
    with pytest.raises(OcrUnavailableError):
        licence_read(licence_png())


def test_ocr_switched_off_in_settings_is_unavailable(settings):
    settings.OCR_ENABLED = False
    with pytest.raises(OcrUnavailableError):
        licence_read(licence_png())


def test_tesseract_that_fails_makes_ocr_unavailable(monkeypatch, tmp_path):
    failing = tmp_path / "tesseract"
    failing.write_text("#!/bin/sh\necho 'Error opening data file' >&2\nexit 1\n")
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", str(failing))
    with pytest.raises(OcrUnavailableError, match="Error opening data file"):
        licence_read(licence_png())


def test_tesseract_that_hangs_is_stopped_at_the_timeout(monkeypatch, tmp_path, settings):
    hanging = tmp_path / "tesseract"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", str(hanging))
    settings.OCR_TIMEOUT_SECONDS = 1
    with pytest.raises(OcrUnavailableError, match="timed out"):
        licence_read(licence_png())
