"""Enough of PromQL to check our rules and dashboard without promtool: brackets balance, every
call is a known function, and the metric names an expression reads."""

import re

FUNCTIONS = {
    "abs", "absent", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp_max", "clamp_min", "count",
    "count_over_time", "delta", "deriv", "floor", "group", "histogram_quantile", "idelta", "increase", "irate",
    "label_replace", "max", "max_over_time", "min", "min_over_time", "predict_linear", "quantile",
    "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc", "stddev", "sum",
    "sum_over_time", "time", "timestamp", "topk", "vector",
}  # fmt: skip
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_PAIRS = {")": "(", "]": "[", "}": "{"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def problems(expr: str) -> list[str]:
    """What is wrong with `expr` as far as this reading sees: unbalanced brackets, unknown
    functions, no metric at all."""
    found = []
    stack: list[str] = []
    for char in _STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack.pop() != _PAIRS[char]:
                found.append(f"unbalanced {char!r}")
    if stack:
        found.append(f"unclosed {''.join(stack)!r}")
    for call in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", _reduced(expr)):
        if call.group(1) not in FUNCTIONS and call.group(1) not in KEYWORDS:
            found.append(f"unknown function {call.group(1)}")
    if not metric_names(expr):
        found.append("reads no metric")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects (label matchers, groupings, durations and calls aside)."""
    text = _reduced(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if name in KEYWORDS or following.startswith("("):
            continue
        if re.fullmatch(r"\d.*", name) or _inside_number(text, match.start()):
            continue
        names.add(name)
    return names


def _reduced(expr: str) -> str:
    return _GROUPING.sub(" ", _STRING.sub('""', expr))


def _inside_number(text: str, start: int) -> bool:
    """`1e3`'s `e3`: an identifier glued to a digit before it."""
    return start > 0 and (text[start - 1].isdigit() or text[start - 1] == ".")
