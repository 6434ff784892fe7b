"""Stored text read in the reader's language: a notice written in Chinese reads in English, and the other way."""

import pytest
from django.utils import translation

from core.i18n import in_current_language


@pytest.mark.parametrize(
    ("stored", "language", "shown"),
    [
        ("已收到 1234.50 元还款", "en", "Payment of 1234.50 yuan received"),
        ("Payment of 1234.50 yuan received", "zh-hans", "已收到 1234.50 元还款"),
        (
            "We received 1234.50 yuan for loan #7 on 2027-01-03. Thank you.",
            "zh-hans",
            "我们已于 2027-01-03 收到贷款 #7 的还款 1234.50 元。谢谢！",
        ),
        # A value that is itself a message is read in the reader's language too.
        (
            "您的 88.00 元还款扣收失败：通道拒绝了该笔扣款。",
            "en",
            "Your payment of ¥88.00 could not be collected: The rail refused the collection.",
        ),
        # A notice an earlier version sent, in words the portal no longer writes (``RETIRED_MESSAGES``).
        (
            "300.00 yuan was due on 2026-03-01 and is now more than 7 day(s) late. Late fees are charged by your "
            "contract's terms; please pay now from your loan page or contact us.",
            "zh-hans",
            "300.00 元已于 2026-03-01 到期，现已逾期超过 7 天。逾期费按合同条款收取；请立即在贷款页面还款或联系我们。",
        ),
        # An amount written with its currency is written as the reader's language writes amounts.
        ("We received your payment of ¥1,200.00. Thank you.", "zh-hans", "已收到您的还款 1,200.00 元，谢谢。"),
        ("已收到您的还款 1,200.00 元，谢谢。", "en", "We received your payment of ¥1,200.00. Thank you."),
    ],
)
def test_a_stored_message_reads_in_the_current_language(stored, language, shown):
    with translation.override(language):
        assert in_current_language(stored) == shown


def test_text_that_is_no_message_is_shown_as_stored():
    with translation.override("en"):
        assert in_current_language("辛苦了，明天见") == "辛苦了，明天见"
        assert in_current_language("") == ""


def test_text_already_in_the_readers_language_is_unchanged():
    with translation.override("en"):
        assert in_current_language("Payment of 1234.50 yuan received") == "Payment of 1234.50 yuan received"
