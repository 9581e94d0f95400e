import re

# The one script every page loads: from 'self', deferred, nothing inline (the CSP forbids it).
PORTAL_SCRIPT = '<script src="/static/portal.js" defer></script>'


def assert_no_inline_script_or_style(html: str) -> None:
    assert html.count(PORTAL_SCRIPT) == 1
    assert re.findall(r"<script\b", html) == ["<script"]
    assert "<style" not in html and "style=" not in html and " on" + "click=" not in html
