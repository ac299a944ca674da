"""Number parsing that accepts exactly what Go's ``strconv.ParseFloat`` accepts."""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DECIMAL_CHARS = frozenset("0123456789.eE+-")
_HEX = re.compile(
    r"([+-]?)0[xX]((?:_?[0-9a-fA-F])*\.?(?:[0-9a-fA-F]_?)*)[pP]([+-]?[0-9]+(?:_[0-9]+)*)", re.ASCII
)
_SPECIAL = {
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "nan": math.nan,
}


def parse_go_float(text: str) -> tuple[float, bool]:
    """Parse ``text`` like Go's ``ParseFloat(text, 64)``: ``(value, ok)``; ``(±inf, False)`` on overflow."""
    if text and _DECIMAL_CHARS.issuperset(text):
        try:
            value = float(text)
        except ValueError:
            return 0.0, False
        if math.isinf(value):
            return value, False
        return value, True
    return _parse_slow(text)


def _parse_slow(text: str) -> tuple[float, bool]:
    special = _SPECIAL.get(text.lower()) if len(text) <= 9 else None
    if special is not None:
        return special, True
    if not text.isascii():
        return 0.0, False
    match = _HEX.fullmatch(text)
    if match is None:
        return 0.0, False
    sign, mantissa, exponent = match.groups()
    mantissa = mantissa.replace("_", "")
    if mantissa in ("", "."):
        return 0.0, False
    try:
        value = float.fromhex(f"{sign}0x{mantissa}p{exponent.replace('_', '')}")
    except (OverflowError, ValueError):
        return (-math.inf if sign == "-" else math.inf), False
    return value, True


def go_int_truncate(value: float) -> int:
    """Go's ``int(f)`` on amd64: truncation toward zero, and the minimum int64 when ``f`` is out of range."""
    if math.isnan(value) or not (-9.223372036854776e18 <= value < 9.223372036854776e18):
        return -(2**63)
    return int(value)


def go_format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` (how client_golang writes ``le`` and ``quantile``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # position of the decimal point relative to the digits
    sign = "-" if value < 0 else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
