"""Input rules more than one service applies: the same address is valid everywhere."""

import re

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
EMAIL_PROBLEM = "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."


class Invalid(ValueError):
    """A German sentence for a person; pydantic carries it to the field it belongs to."""


def clean_email(value: str) -> str:
    """The address trimmed, its domain in lower case; Invalid when it cannot receive mail."""
    email = value.strip()
    if not email:
        raise Invalid("Bitte geben Sie Ihre E-Mail-Adresse ein.")
    local, at, domain = email.rpartition("@")
    if not at or not local or len(email) > 254 or len(local) > 64 or not _LOCAL.match(local):
        raise Invalid(EMAIL_PROBLEM)
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(EMAIL_PROBLEM) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or not labels[-1].isalpha():
        raise Invalid(EMAIL_PROBLEM)
    return f"{local}@{domain.lower()}"
