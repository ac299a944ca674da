"""``$1`` / ``${1}`` / ``$name`` expansion with Go ``regexp.Expand`` rules, compiled once per template."""

from __future__ import annotations

from collections.abc import Sequence

Part = str | int  # a literal, or a capture-group index (-1 = a group that never exists)


def _name_end(template: str, start: int) -> int:
    end = start
    while end < len(template):
        char = template[end]
        if not (char.isalpha() or char.isdecimal() or char == "_"):
            break
        end += 1
    return end


def _group_ref(name: str, names: dict[str, int]) -> int:
    if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1):
        return int(name) if len(name) < 9 else -1
    return names.get(name, -1)


def compile_template(template: str, names: dict[str, int] | None = None) -> tuple[Part, ...]:
    """Split a template into literals and group references (``$$`` is a literal ``$``)."""
    names = names or {}
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        dollar = template.find("$", i)
        if dollar == -1:
            literal.append(template[i:])
            break
        literal.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            literal.append("$")
            i += 1
            continue
        brace = template.startswith("{", i)
        start = i + 1 if brace else i
        end = _name_end(template, start)
        if end == start or (brace and not template.startswith("}", end)):
            literal.append("$")  # malformed reference: the dollar stays literal text
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_group_ref(template[start:end], names))
        i = end + 1 if brace else end
    if literal and "".join(literal):
        parts.append("".join(literal))
    return tuple(parts)


def expand(parts: tuple[Part, ...], groups: Sequence[str | None]) -> str:
    """Render compiled ``parts``; a missing or unmatched group expands to the empty string."""
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif 0 <= part < len(groups):
            out.append(groups[part] or "")
    return "".join(out)
