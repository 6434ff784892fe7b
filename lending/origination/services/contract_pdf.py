"""The loan contract and the final repayment schedule as PDFs: ``templates/lending/contract.html`` and
``templates/lending/final_schedule.html`` rendered by WeasyPrint.

Pure rendering, no database writes: ``lending.origination.services.contracts.contract_render`` and
``lending.origination.services.final_schedule.final_schedule_render`` decide when to render and store the result.
What is printed comes only from the document's ``terms`` (fixed when it was made) and its own id (and version), so
rendering the same document again gives the same text.

Rendering itself (fonts, the WeasyPrint call) is ``core.pdf``'s.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.template.loader import render_to_string
from django.utils import translation

from core.formatting import amount as amount_grouped
from core.pdf import DOCUMENT_LANGUAGE, FONT_FAMILY, RenderedPdf, html_to_pdf

CONTRACT_TEMPLATE = "lending/contract.html"
FINAL_SCHEDULE_TEMPLATE = "lending/final_schedule.html"
CONTRACT_LANGUAGE = DOCUMENT_LANGUAGE


def contract_html(*, contract) -> str:
    """The contract's HTML, always in Chinese with English beside it, whatever language the caller is in."""
    with translation.override(CONTRACT_LANGUAGE):
        return render_to_string(CONTRACT_TEMPLATE, contract_context(contract=contract))


def contract_pdf(*, contract) -> RenderedPdf:
    return html_to_pdf(contract_html(contract=contract))


def contract_context(*, contract) -> dict:
    """What the template prints: the stored terms, with the amounts formatted once here."""
    terms = contract.terms
    schedule = [
        {
            **line,
            "principal_display": amount_grouped(line["principal"]),
            "interest_display": amount_grouped(line["interest"]),
            "fee_display": amount_grouped(line["fee"]),
            "payment_display": amount_grouped(line["payment"]),
            "balance_display": amount_grouped(line["balance"]),
        }
        for line in terms["schedule"]
    ]
    totals = terms["totals"]
    return {
        "contract": contract,
        "document_id": str(contract.document_id),
        "version": contract.version,
        "terms": terms,
        "font_family": FONT_FAMILY,
        "schedule": schedule,
        "amount_display": amount_grouped(terms["amount"]),
        "amount_capitals": amount_in_chinese_capitals(Decimal(terms["amount"])),
        # Amounts read "¥300,000.00" in both languages, as on every page; another currency keeps its code.
        "currency_sign": "¥" if terms.get("currency", "CNY") == "CNY" else f"{terms['currency']} ",
        "totals_display": {name: amount_grouped(value) for name, value in totals.items()},
        "schedule_sums": {
            name: amount_grouped(sum((Decimal(line[name]) for line in terms["schedule"]), Decimal(0)))
            for name in ("principal", "interest", "fee", "payment")
        },
    }


def final_schedule_html(*, final_schedule) -> str:
    """The final schedule's HTML, in Chinese with English beside it like the contract it completes."""
    with translation.override(CONTRACT_LANGUAGE):
        return render_to_string(FINAL_SCHEDULE_TEMPLATE, final_schedule_context(final_schedule=final_schedule))


def final_schedule_pdf(*, final_schedule) -> RenderedPdf:
    return html_to_pdf(final_schedule_html(final_schedule=final_schedule))


def final_schedule_context(*, final_schedule) -> dict:
    """What the template prints: the stored terms, with the amounts formatted once here."""
    terms = final_schedule.terms
    money = ("principal", "interest", "fee", "payment", "balance")
    signed = terms["signed"]
    return {
        "document_id": str(final_schedule.document_id),
        "terms": terms,
        "font_family": FONT_FAMILY,
        "schedule": [
            {**line, **{f"{name}_display": amount_grouped(line[name]) for name in money}} for line in terms["schedule"]
        ],
        "totals_display": {name: amount_grouped(value) for name, value in terms["totals"].items()},
        "payout_amount_display": amount_grouped(terms["payout"]["amount"]),
        "principal_display": amount_grouped(terms["principal"]),
        "signed_total_display": amount_grouped(signed["total_repayable"]) if signed["total_repayable"] else "",
        "interest_reduced_display": amount_grouped(terms["rule"]["interest_reduced_by"]),
    }


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _four_digits(number: int) -> str:
    """0 < number < 10000 in financial capitals, zeros inside it read once: 1010 -> 壹仟零壹拾."""
    text = ""
    zero_pending = False
    for place in range(3, -1, -1):
        digit = number // 10**place % 10
        if digit == 0:
            zero_pending = bool(text)
            continue
        if zero_pending:
            text += _DIGITS[0]
            zero_pending = False
        text += _DIGITS[digit] + _PLACES[place]
    return text


def amount_in_chinese_capitals(amount: Decimal) -> str:
    """An amount of yuan as Chinese contracts write it beside the figures, so neither can be altered alone.

    50000.00 -> 人民币伍万元整; 10001.50 -> 人民币壹万零壹元伍角; 100000.05 -> 人民币壹拾万元零伍分.
    """
    fen_total = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen_total < 0 or fen_total >= 10**16 * 100:
        raise ValueError(f"Cannot write {amount} in capitals")
    yuan, fen_part = divmod(fen_total, 100)
    jiao, fen = divmod(fen_part, 10)

    groups = []
    while yuan:
        yuan, group = divmod(yuan, 10000)
        groups.append(group)
    text = ""
    zero_pending = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(text)
            continue
        # A zero is read between groups when a group is skipped or the next one starts below a thousand.
        if text and (zero_pending or group < 1000):
            text += _DIGITS[0]
        text += _four_digits(group) + _GROUPS[index]
        zero_pending = False

    if text:
        text += "元"
    if not jiao and not fen:
        return f"人民币{text or '零元'}整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += _DIGITS[0]
    if fen:
        text += _DIGITS[fen] + "分"
    return f"人民币{text}"
