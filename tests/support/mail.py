"""Reading the portal's mails the way DESIGN.md promises a program can."""

import re

LINK = re.compile(r"https?://[^\s<>\"']+")


def extract_token_link(text: str) -> str:
    """The one link with `token=` in a confirmation or reset mail's text part."""
    links = [link.rstrip(".,;:!?)") for link in LINK.findall(text) if "token=" in link]
    assert len(links) == 1, f"expected exactly one link with token=, found {len(links)}:\n{text}"
    return links[0]


def extract_password(text: str) -> str:
    """The initial password: the line of its own that starts `Passwort: `."""
    found = [line.removeprefix("Passwort: ").strip() for line in text.splitlines() if line.startswith("Passwort: ")]
    assert len(found) == 1, f"expected exactly one line starting 'Passwort: ', found {len(found)}:\n{text}"
    assert found[0], f"the 'Passwort: ' line is empty:\n{text}"
    return found[0]
