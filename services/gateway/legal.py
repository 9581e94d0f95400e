"""The chamber's own texts for the legal pages, taken from the settings: what is not set yet
becomes a visible placeholder naming the variable to set, so an unfilled Impressum cannot pass
for a real one."""

from dataclasses import dataclass

from runtime.german import german_date
from services.gateway.settings import Settings


@dataclass(frozen=True)
class Text:
    lines: tuple[str, ...]
    placeholder: bool = False


# setting -> what the placeholder asks for
LEGAL_SETTINGS = {
    "legal_name": "Name der Kammer",
    "legal_address": "Anschrift der Kammer",
    "legal_represented_by": "Präsident/in und Hauptgeschäftsführer/in",
    "legal_supervisory_authority": "Aufsichtsbehörde der Kammer",
    "legal_vat_id": "Umsatzsteuer-Identifikationsnummer (leer: keine)",
    "legal_content_responsible": "Verantwortliche/r nach § 18 Abs. 2 MStV",
    "legal_privacy_officer": "Kontakt der/des Datenschutzbeauftragten",
    "legal_privacy_authority": "Datenschutz-Aufsichtsbehörde",
    "legal_log_days": "Aufbewahrungsdauer der Server-Protokolle in Tagen",
    "legal_accessibility_date": "Datum der Erklärung",
    "legal_enforcement_body": "Durchsetzungs- bzw. Schlichtungsstelle des Landes",
}


def env_name(setting: str) -> str:
    return "PORTAL_" + setting.upper()


def missing(settings: Settings) -> list[str]:
    """The variables still unset, for a warning at start outside development."""
    return [env_name(name) for name in LEGAL_SETTINGS if getattr(settings, name) is None]


def _text(settings: Settings, name: str) -> Text:
    value = getattr(settings, name)
    if value is None:
        return Text((f"[{LEGAL_SETTINGS[name]} – in {env_name(name)} eintragen]",), placeholder=True)
    if name == "legal_accessibility_date":
        return Text((german_date(value),))
    if name == "legal_log_days":
        return Text(("1 Tag" if value == 1 else f"{value} Tage",))
    return Text(tuple(line.strip() for line in str(value).split("|") if line.strip()))


def legal_texts(settings: Settings) -> dict[str, Text]:
    texts = {name.removeprefix("legal_"): _text(settings, name) for name in LEGAL_SETTINGS}
    contact = settings.legal_accessibility_contact
    texts["accessibility_contact"] = (
        _text(settings, "legal_accessibility_contact")
        if contact
        else Text((f"E-Mail: {settings.support_email}", f"Telefon: {settings.support_phone}"))
    )
    return texts
