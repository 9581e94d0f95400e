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
    # fullmatch: `$` alone lets a trailing newline through, and with it a header into a mail.
    if not at or not local or len(email) > 254 or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise Invalid(EMAIL_PROBLEM)
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(EMAIL_PROBLEM) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or not labels[-1].isalpha():
        raise Invalid(EMAIL_PROBLEM)
    return f"{local}@{domain.lower()}"


# C0 controls but tab, line feed and carriage return; DEL; C1 controls. They have no place in a
# name, an address, a PIN or a message to a person (Postgres cannot even store NUL); refused rather
# than dropped, so nobody's text is changed behind their back.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_MESSAGE = (
    "Dieses Feld enthält unsichtbare Steuerzeichen. Bitte geben Sie den Text noch einmal "
    "ein, ohne ihn aus einer anderen Anwendung einzufügen."
)
