"""Reading a merchant's sales history from a CSV file or a list of days, and checking every value.

Nothing here touches the database. Input becomes a list of ``SalesDayInput`` or ``SalesDataInvalid``
is raised listing every problem by line (CSV) or position (JSON) and column, so that the import can
refuse a bad file whole and the merchant can fix all of it in one go.
"""

import csv
import datetime
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.money import to_fen

COLUMNS = ("date", "gross_sales", "refunds", "transaction_count", "distinct_customers")
AMOUNT_COLUMNS = ("gross_sales", "refunds")
COUNT_COLUMNS = ("transaction_count", "distinct_customers")

# Five years of days: enough for any credit file, small enough to check and store in one request.
MAX_DAYS_PER_IMPORT = 1830
# No small merchant takes a hundred million yuan in a day; a larger figure is a typing or unit error
# (fen instead of yuan), and it would also overflow nothing but mislead the credit file.
MAX_DAILY_AMOUNT = Decimal("100000000.00")
MAX_DAILY_COUNT = 10_000_000
# A file with thousands of bad lines is usually the wrong file: the first errors say enough.
MAX_ERRORS_SHOWN = 50

# Excel users in China often write the header in Chinese; these are the names we accept for each column.
COLUMN_ALIASES = {
    "日期": "date",
    "销售额": "gross_sales",
    "营业额": "gross_sales",
    "退款": "refunds",
    "退款额": "refunds",
    "交易笔数": "transaction_count",
    "笔数": "transaction_count",
    "顾客数": "distinct_customers",
    "客户数": "distinct_customers",
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^\d+(?:\.(\d+))?$")
_COUNT = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class SalesDayInput:
    """One day of sales that passed every check, ready to store."""

    date: datetime.date
    gross_sales: Decimal
    refunds: Decimal
    transaction_count: int
    distinct_customers: int


@dataclass(frozen=True, slots=True)
class SalesDataError:
    """One problem, located by CSV line (the header is line 1) or by position in a JSON list (from 0)."""

    message: str
    line: int | None = None
    index: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = {"line": self.line, "index": self.index, "column": self.column, "message": self.message}
        if self.line is not None:
            if self.column:
                return _("line %(line)d, column %(column)s: %(message)s") % where
            return _("line %(line)d: %(message)s") % where
        if self.index is not None:
            if self.column:
                return _("days[%(index)d].%(column)s: %(message)s") % where
            return _("days[%(index)d]: %(message)s") % where
        return self.message


class SalesDataInvalid(Exception):  # noqa: N818 - a domain outcome, named for what the caller catches
    """The sales data was refused; ``errors`` holds the first problems and ``total`` counts all of them."""

    def __init__(self, errors: Sequence[SalesDataError], total: int | None = None):
        self.errors = list(errors)[:MAX_ERRORS_SHOWN]
        self.total = max(total or 0, len(errors))
        super().__init__("; ".join(self.messages()))

    @property
    def more(self) -> int:
        return self.total - len(self.errors)

    def messages(self) -> list[str]:
        lines = [str(error) for error in self.errors]
        if self.more:
            lines.append(
                ngettext("… and %(n)d more problem.", "… and %(n)d more problems.", self.more) % {"n": self.more}
            )
        return lines


class _Errors:
    """Collects problems, keeping the first ``MAX_ERRORS_SHOWN`` and counting the rest."""

    def __init__(self) -> None:
        self.shown: list[SalesDataError] = []
        self.total = 0

    def add(self, error: SalesDataError) -> None:
        self.total += 1
        if len(self.shown) < MAX_ERRORS_SHOWN:
            self.shown.append(error)

    def raise_if_any(self) -> None:
        if self.total:
            raise SalesDataInvalid(self.shown, self.total)


def sales_csv_read(csv_file: Any, *, today: datetime.date) -> list[SalesDayInput]:
    """Read and check a whole CSV file (an upload or any binary file object); raise on any problem."""
    raw = _read_limited(csv_file)
    text = _decode(raw)
    if not text.strip():
        raise SalesDataInvalid(
            [SalesDataError(_("The file is empty. Its first line must be the header: %(columns)s.") % _columns())]
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    errors = _Errors()
    try:
        header = next(reader)
        columns = _read_header(header)
        rows: list[tuple[int, list[str]]] = []
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise SalesDataInvalid(
            [SalesDataError(_("the file cannot be read as CSV (%(reason)s).") % {"reason": exc}, line=reader.line_num)]
        ) from exc
    if not rows:
        raise SalesDataInvalid(
            [SalesDataError(_("The file has a header but no days. Add one line per day below the header."))]
        )
    _check_row_count(len(rows))
    days: list[SalesDayInput] = []
    first_seen: dict[datetime.date, int] = {}
    for line, cells in rows:
        if len(cells) != len(columns):
            errors.add(
                SalesDataError(
                    _("this line has %(got)d values but the header has %(expected)d column(s) (%(columns)s).")
                    % {"got": len(cells), "expected": len(columns), "columns": ",".join(columns)},
                    line=line,
                )
            )
            continue
        values = dict(zip(columns, cells, strict=True))
        day = _read_day(values, errors, today=today, locate=lambda column, line=line: {"line": line, "column": column})
        if day is not None:
            _check_duplicate(day, line, first_seen, errors, locate={"line": line, "column": "date"}, describe=_line)
            days.append(day)
    errors.raise_if_any()
    return days


def sales_rows_read(rows: Any, *, today: datetime.date) -> list[SalesDayInput]:
    """Check a list of days given as mappings (the JSON API); raise on any problem."""
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise SalesDataInvalid([SalesDataError(_("Send the days as a list of objects."), column="days")])
    if not rows:
        raise SalesDataInvalid([SalesDataError(_("The list of days is empty."), column="days")])
    _check_row_count(len(rows))
    errors = _Errors()
    days: list[SalesDayInput] = []
    first_seen: dict[datetime.date, int] = {}
    for index, values in enumerate(rows):
        if not isinstance(values, Mapping):
            errors.add(
                SalesDataError(_("each day must be an object with the fields %(columns)s.") % _columns(), index=index)
            )
            continue
        for unknown in sorted(set(values) - set(COLUMNS)):
            errors.add(
                SalesDataError(
                    _("unknown field; the fields are %(columns)s.") % _columns(), index=index, column=str(unknown)
                )
            )
        day = _read_day(
            values, errors, today=today, locate=lambda column, index=index: {"index": index, "column": column}
        )
        if day is not None:
            _check_duplicate(day, index, first_seen, errors, locate={"index": index, "column": "date"}, describe=_item)
            days.append(day)
    errors.raise_if_any()
    return days


def _line(line: int) -> str:
    return _("line %(line)d") % {"line": line}


def _item(index: int) -> str:
    return f"days[{index}]"


def _columns() -> dict[str, str]:
    return {"columns": ",".join(COLUMNS)}


def _read_limited(csv_file: Any) -> bytes:
    limit = settings.SALES_CSV_MAX_BYTES
    size = getattr(csv_file, "size", None)
    if getattr(csv_file, "seekable", lambda: False)():
        csv_file.seek(0)  # an upload may have been looked at already (content sniffing, a retry)
    # Read one byte past the limit so a file object without a size is refused without reading it all.
    raw = b"" if size is not None and size > limit else csv_file.read(limit + 1)
    if (size is not None and size > limit) or len(raw) > limit:
        raise SalesDataInvalid(
            [
                SalesDataError(
                    _("The file is larger than %(limit)s, the most one import takes. Split it into smaller files.")
                    % {"limit": filesizeformat(limit)}
                )
            ]
        )
    if isinstance(raw, str):
        # A text-mode file: already decoded by whoever opened it.
        raw = raw.encode("utf-8")
    return raw


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Excel on Chinese Windows saves "CSV (comma delimited)" in the ANSI code page, which is GBK;
    # GB 18030 is its superset and decodes every GBK file.
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise SalesDataInvalid(
            [SalesDataError(_("The file is not text in UTF-8 or GBK. In Excel, save it as “CSV UTF-8”."))]
        ) from None


def _read_header(header: list[str]) -> list[str]:
    names = [cell.strip().lstrip("\ufeff").strip().lower() for cell in header]
    columns = [COLUMN_ALIASES.get(name, name) for name in names]
    problems = []
    if columns and _ISO_DATE.match(columns[0]):
        problems.append(
            _("the first line must be the header (%(columns)s), but it looks like a day of sales.") % _columns()
        )
    else:
        unknown = [name for name, column in zip(names, columns, strict=True) if column not in COLUMNS]
        missing = [column for column in COLUMNS if column not in columns]
        repeated = sorted({column for column in columns if column in COLUMNS and columns.count(column) > 1})
        if unknown:
            problems.append(
                _("unknown column(s) %(unknown)s; the columns are %(columns)s.")
                % {"unknown": ", ".join(repr(name) for name in unknown), **_columns()}
            )
        if missing:
            problems.append(
                _("missing column(s) %(missing)s; the header must name %(columns)s.")
                % {"missing": ", ".join(missing), **_columns()}
            )
        if repeated:
            problems.append(_("column(s) %(repeated)s appear more than once.") % {"repeated": ", ".join(repeated)})
    if problems:
        raise SalesDataInvalid([SalesDataError(problem, line=1) for problem in problems])
    return columns


def _check_row_count(count: int) -> None:
    if count > MAX_DAYS_PER_IMPORT:
        raise SalesDataInvalid(
            [
                SalesDataError(
                    _(
                        "There are %(count)d days; one import takes at most %(limit)d (five years). "
                        "Split the history into several imports."
                    )
                    % {"count": count, "limit": MAX_DAYS_PER_IMPORT}
                )
            ]
        )


def _check_duplicate(
    day: SalesDayInput,
    position: int,
    first_seen: dict[datetime.date, int],
    errors: _Errors,
    *,
    locate: dict,
    describe,
) -> None:
    if day.date in first_seen:
        errors.add(
            SalesDataError(
                _("%(date)s is already given on %(first)s; each day may appear only once.")
                % {"date": day.date.isoformat(), "first": describe(first_seen[day.date])},
                **locate,
            )
        )
    else:
        first_seen[day.date] = position


def _read_day(values: Mapping[str, Any], errors: _Errors, *, today: datetime.date, locate) -> SalesDayInput | None:
    """Check one day's values; add an error for each bad value and return None if there was any."""
    before = errors.total
    parsed: dict[str, Any] = {}
    for column in COLUMNS:
        if column not in values:
            errors.add(SalesDataError(_("is missing."), **locate(column)))
            continue
        if column == "date":
            reader = _read_date
        elif column in AMOUNT_COLUMNS:
            reader = _read_amount
        else:
            reader = _read_count
        try:
            parsed[column] = reader(values[column], today=today)
        except ValueError as exc:
            errors.add(SalesDataError(str(exc), **locate(column)))
    if errors.total > before:
        return None
    if parsed["refunds"] > parsed["gross_sales"]:
        # The platform settles refunds against the same day's takings, so a larger refund than the day's
        # sales almost always means the two columns are swapped.
        errors.add(
            SalesDataError(
                _(
                    "refunds (%(refunds)s) are more than the day's gross sales (%(gross)s); refunds cannot exceed "
                    "that day's gross sales — check that the two columns are not swapped."
                )
                % {"refunds": parsed["refunds"], "gross": parsed["gross_sales"]},
                **locate("refunds"),
            )
        )
    if parsed["distinct_customers"] > parsed["transaction_count"]:
        errors.add(
            SalesDataError(
                _(
                    "distinct customers (%(customers)d) are more than transactions (%(transactions)d); "
                    "every customer makes at least one transaction."
                )
                % {"customers": parsed["distinct_customers"], "transactions": parsed["transaction_count"]},
                **locate("distinct_customers"),
            )
        )
    if errors.total > before:
        return None
    return SalesDayInput(**parsed)


def _as_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(_("is empty or not a value (%(value)s).") % {"value": value})
    if isinstance(value, (int, float)):
        # JSON numbers: read them by their shortest decimal text, as DRF's DecimalField does.
        return repr(value)
    if not isinstance(value, str):
        raise ValueError(_("must be text or a number."))
    return value.strip()


def _read_date(value: Any, *, today: datetime.date) -> datetime.date:
    text = _as_text(value)
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            _("'%(value)s' is not a date; write it as YYYY-MM-DD, e.g. 2025-03-08.") % {"value": text}
        ) from None
    if day > today:
        raise ValueError(
            _("%(value)s is in the future; sales can be imported up to today (%(today)s).")
            % {"value": text, "today": today.isoformat()}
        )
    return day


def _read_amount(value: Any, *, today: datetime.date) -> Decimal:
    text = _as_text(value)
    if not text:
        raise ValueError(_("is empty; write 0 if there were none."))
    match = _AMOUNT.match(text.removeprefix("-"))
    if match and text.startswith("-"):
        raise ValueError(_("'%(value)s' is negative; amounts must be 0 or more.") % {"value": text})
    if match and match.group(1) and len(match.group(1)) > 2:
        raise ValueError(_("'%(value)s' has more than two decimals; amounts are in yuan and fen.") % {"value": text})
    if not match:
        raise ValueError(_("'%(value)s' is not an amount; use digits with up to two decimals.") % {"value": text})
    amount = to_fen(text)
    if amount > MAX_DAILY_AMOUNT:
        raise ValueError(
            _("'%(value)s' is more than %(limit)s yuan, the most one day can hold; check for a typing error.")
            % {"value": text, "limit": f"{MAX_DAILY_AMOUNT:,}"}
        )
    return amount


def _read_count(value: Any, *, today: datetime.date) -> int:
    text = _as_text(value)
    if not text:
        raise ValueError(_("is empty; write 0 if there were none."))
    if text.startswith("-") and _COUNT.match(text[1:]):
        raise ValueError(_("'%(value)s' is negative; counts must be 0 or more.") % {"value": text})
    if not _COUNT.match(text):
        raise ValueError(_("'%(value)s' is not a whole number; use digits only.") % {"value": text})
    count = int(text)
    if count > MAX_DAILY_COUNT:
        raise ValueError(
            _("'%(value)s' is more than %(limit)s in one day; check for a typing error.")
            % {"value": text, "limit": f"{MAX_DAILY_COUNT:,}"}
        )
    return count
