"""Wire times as kube-apiserver parses and prints them: ``metav1.Time`` and ``metav1.MicroTime``.

Both are parsed with Go's ``time.Parse`` and printed in UTC:

* ``Time`` uses layout ``2006-01-02T15:04:05Z07:00`` (RFC 3339; a fraction is accepted and
  dropped) and prints whole seconds: ``2024-05-01T10:00:00Z``.
* ``MicroTime`` (``acquireTime``, ``renewTime``) uses ``2006-01-02T15:04:05.000000Z07:00``:
  exactly six fractional digits, then ``Z`` or ``±hh:mm``. It always prints six digits and ``Z``.

Anything else fails JSON decoding, so the request gets a 400 BadRequest whose message carries
Go's own ``time.ParseError`` text, reproduced here (``parsing time "..." as "...": cannot parse
"Z" as ".000000"``). The official Python client writes a datetime whose microsecond is 0 without
a fraction; the real server rejects that and so does this one.

Values are handled as integers (days, seconds, nanoseconds) rather than ``datetime`` because Go
accepts years 0000..9999 and offsets that move an instant outside ``datetime``'s range.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

__all__ = [
    "MICRO_LAYOUT",
    "RFC3339_LAYOUT",
    "GoTimeError",
    "Instant",
    "format_micro",
    "format_time",
    "now",
    "parse_micro",
    "parse_time",
]

RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


class GoTimeError(ValueError):
    """``time.Parse`` failed; ``str()`` is Go's ``ParseError.Error()``."""


@dataclass(frozen=True, slots=True, order=True)
class Instant:
    """A UTC instant: seconds since 0001-01-01T00:00:00Z and nanoseconds."""

    seconds: int
    nanos: int = 0

    @property
    def is_zero(self) -> bool:
        """Go's ``Time.IsZero``: exactly 0001-01-01T00:00:00Z (encodes as JSON ``null``)."""
        return self.seconds == 0 and self.nanos == 0

    def to_unix(self) -> float:
        return (self.seconds - _UNIX_EPOCH) + self.nanos / 1e9


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = (days if days >= 0 else days - 146096) // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year + (month <= 2), month, day


# Seconds from 0001-01-01 to 1970-01-01: Go's zero time is year 1.
_UNIX_EPOCH = -_days_from_civil(1, 1, 1) * 86400


def _instant(year: int, month: int, day: int, hms: int, *, nanos: int, offset: int) -> Instant:
    seconds = (_days_from_civil(year, month, day) * 86400 + hms - offset) + _UNIX_EPOCH
    return Instant(seconds, nanos)


def now() -> Instant:
    """The current wall time (for ``creationTimestamp`` and friends)."""
    ns = time.time_ns()
    return Instant(ns // 1_000_000_000 + _UNIX_EPOCH, ns % 1_000_000_000)


def from_datetime(value: datetime.datetime) -> Instant:
    """An aware ``datetime`` as an ``Instant``."""
    utc = value.astimezone(datetime.timezone.utc)
    return _instant(
        utc.year,
        utc.month,
        utc.day,
        utc.hour * 3600 + utc.minute * 60 + utc.second,
        nanos=utc.microsecond * 1000,
        offset=0,
    )


def _split(instant: Instant) -> tuple[int, int, int, int, int, int]:
    days, rem = divmod(instant.seconds - _UNIX_EPOCH, 86400)
    year, month, day = _civil_from_days(days)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    return year, month, day, hour, minute, second


def _year(year: int) -> str:
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def format_time(instant: Instant) -> str:
    """``t.UTC().Format(time.RFC3339)``."""
    year, month, day, hour, minute, second = _split(instant)
    return f"{_year(year)}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def format_micro(instant: Instant) -> str:
    """``t.UTC().Format(RFC3339Micro)``: always six fractional digits."""
    year, month, day, hour, minute, second = _split(instant)
    micros = instant.nanos // 1000
    return f"{_year(year)}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{micros:06d}Z"


# -- Go's time.Parse, reduced to the two layouts above ---------------------------------------------


def _quote(value: str) -> str:
    # time.quote: double quotes, with backslash escapes only for '"' and '\\' (and non-printables).
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Bad(Exception):
    """errBad / errAtoi inside the parser."""


def _is_digit(value: str, i: int) -> bool:
    return i < len(value) and "0" <= value[i] <= "9"


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not _is_digit(value, 0):
        raise _Bad
    if not _is_digit(value, 1):
        if fixed:
            raise _Bad
        return int(value[0]), value[1:]
    return int(value[0]) * 10 + int(value[1]), value[2:]


def _atoi(value: str) -> int:
    negative = False
    if value and value[0] in "+-":
        negative = value[0] == "-"
        value = value[1:]
    number = 0
    for ch in value:
        if not "0" <= ch <= "9":
            raise _Bad
        number = number * 10 + (ord(ch) - 48)
    return -number if negative else number


def _parse_nanoseconds(value: str, nbytes: int) -> tuple[int, str]:
    """Returns (nanoseconds, range error text)."""
    if value[0] not in ".,":
        raise _Bad
    if nbytes > 10:
        value = value[:10]
        nbytes = 10
    ns = _atoi(value[1:nbytes])
    if ns < 0:
        return 0, "fractional second"
    for _ in range(10 - nbytes):
        ns *= 10
    return ns, ""


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


_CHUNKS_TIME = (
    ("", "2006"),
    ("-", "01"),
    ("-", "02"),
    ("T", "15"),
    (":", "04"),
    (":", "05"),
    ("", "Z07:00"),
)
_CHUNKS_MICRO = (*_CHUNKS_TIME[:6], ("", ".000000"), ("", "Z07:00"))


def _go_parse(layout: str, value: str) -> Instant:
    chunks = _CHUNKS_MICRO if layout == MICRO_LAYOUT else _CHUNKS_TIME
    original = value

    def error(layout_elem: str, value_elem: str, message: str = "") -> GoTimeError:
        if message:
            return GoTimeError(f"parsing time {_quote(original)}{message}")
        return GoTimeError(
            f"parsing time {_quote(original)} as {_quote(layout)}: cannot parse "
            f"{_quote(value_elem)} as {_quote(layout_elem)}"
        )

    year, month, day, hour, minute, second, nanos, offset = 1, 1, 1, 0, 0, 0, 0, 0
    for index, (prefix, std) in enumerate(chunks):
        # skip(value, prefix): literal characters must match one by one.
        for ch in prefix:
            if not value or value[0] != ch:
                raise error(prefix, value)
            value = value[1:]
        hold = value
        range_error = ""
        try:
            if std == "2006":
                if len(value) < 4 or not _is_digit(value, 0):
                    raise _Bad
                year = _atoi(value[:4])
                value = value[4:]
            elif std == "01":
                month, value = _getnum(value, True)
                if month <= 0 or month > 12:
                    range_error = "month"
            elif std == "02":
                day, value = _getnum(value, True)
            elif std == "15":
                hour, value = _getnum(value, False)
                if hour < 0 or hour >= 24:
                    range_error = "hour"
            elif std == "04":
                minute, value = _getnum(value, True)
                if minute < 0 or minute >= 60:
                    range_error = "minute"
            elif std == "05":
                second, value = _getnum(value, True)
                if second < 0 or second >= 60:
                    range_error = "second"
                elif (
                    len(value) >= 2
                    and value[0] in ".,"
                    and _is_digit(value, 1)
                    and chunks[index + 1][1] != ".000000"
                ):
                    # A fraction the layout does not mention is accepted (and kept).
                    n = 2
                    while n < len(value) and _is_digit(value, n):
                        n += 1
                    nanos, range_error = _parse_nanoseconds(value, n)
                    value = value[n:]
            elif std == ".000000":
                if len(value) < 7:
                    raise _Bad
                nanos, range_error = _parse_nanoseconds(value, 7)
                value = value[7:]
            elif value[:1] == "Z":
                value = value[1:]
            else:
                if len(value) < 6 or value[3] != ":":
                    raise _Bad
                sign, hh, mm, value = value[0], value[1:3], value[4:6], value[6:]
                hr, _ = _getnum(hh, True)
                mi, _ = _getnum(mm, True)
                if hr > 24:
                    range_error = "time zone offset hour"
                if mi > 60:
                    range_error = "time zone offset minute"
                if sign not in "+-":
                    raise _Bad
                offset = (hr * 60 + mi) * 60 * (-1 if sign == "-" else 1)
        except _Bad:
            raise error(std, hold) from None
        if range_error:
            raise error(std, value, f": {range_error} out of range")
    if value:
        raise error("", value, f": extra text: {_quote(value)}")
    if day < 1 or day > _days_in(month, year):
        raise error("", value, ": day out of range")
    return _instant(
        year, month, day, hour * 3600 + minute * 60 + second, nanos=nanos, offset=offset
    )


def parse_time(value: str) -> Instant:
    """``time.Parse(time.RFC3339, value)``; raises ``GoTimeError`` with Go's message."""
    return _go_parse(RFC3339_LAYOUT, value)


def parse_micro(value: str) -> Instant:
    """``time.Parse(RFC3339Micro, value)``; raises ``GoTimeError`` with Go's message."""
    return _go_parse(MICRO_LAYOUT, value)
