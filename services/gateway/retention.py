"""What the portal stores about a person, why, and for how long: the one list the
Datenschutzerklärung's table is rendered from (and its unit test reads).

The lifetimes are the owning services' (README's retention table, services/*/housekeeping.py,
runtime/retention.py);
the gateway imports no other service, so they are repeated here and must change with them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Stored:
    what: str
    purpose: str
    how_long: str


RETENTION: tuple[Stored, ...] = (
    Stored(
        "Ihr Konto: Vor- und Nachname, E-Mail-Adresse, Geburtsdatum, Passwort (nur als Hashwert)",
        "Anmeldung am Kundenportal und Zuordnung zu Ihrem Betrieb",
        "bis Sie Ihr Konto löschen",
    ),
    Stored(
        "Nicht bestätigte Registrierungen",
        "Bestätigung Ihrer E-Mail-Adresse",
        "30 Tage, dann gelöscht",
    ),
    Stored(
        "Bestätigungs- und Passwort-Links (nur als Hashwert)",
        "Bestätigung der E-Mail-Adresse, „Passwort vergessen“",
        "gültig 48 Stunden bzw. 60 Minuten, einmal verwendbar",
    ),
    Stored(
        "Sitzungen (Sitzungs-Cookie, bei uns nur als Hashwert)",
        "Sie angemeldet zu halten",
        "bis zur Abmeldung, längstens 30 Minuten ohne Aktivität und 12 Stunden nach der Anmeldung",
    ),
    Stored(
        "Vertrauenswürdige Geräte (Geräte-Cookie)",
        "Schutz Ihres Kontos vor Anmeldeversuchen Fremder, ohne Sie selbst auszusperren",
        "1 Jahr nach der letzten Anmeldung mit dem Gerät",
    ),
    Stored(
        "Fehlgeschlagene Anmeldeversuche (Zeitpunkt, IP-Adresse)",
        "Schutz vor dem Erraten von Passwörtern",
        "1 Tag",
    ),
    Stored(
        "Fehlgeschlagene PIN-Eingaben (Zeitpunkt, IP-Adresse, Betriebsnummer)",
        "Schutz vor dem Erraten von PIN-Codes",
        "2 Tage",
    ),
    Stored(
        "Verknüpfungen von Konto und Betrieb",
        "Zugang zu den Angeboten für Ihren Betrieb",
        "bis die Verknüpfung gelöst oder Ihr Konto gelöscht wird",
    ),
    Stored(
        "PIN-Briefe (Betrieb, Anforderung, Versand; der PIN-Code nur als Hashwert)",
        "Versand des PIN-Codes an die Betriebsanschrift, Schutz vor zu vielen Briefen",
        "PIN-Code gültig 30 Tage (mit der jährlichen Post 60 Tage); der Brief bis Ihr Konto gelöscht wird",
    ),
    Stored(
        "Inhalte der E-Mails an Sie",
        "Zustellung, auch wenn der Mailserver zeitweise nicht erreichbar ist; Klärung von Zustellproblemen",
        "7 Tage nach Versand oder endgültigem Scheitern",
    ),
    Stored(
        "Versandnachweis der E-Mails (Art, Empfänger, Zeitpunkt, Ergebnis) ohne Inhalt",
        "Auskunft, ob und wann eine E-Mail zugestellt wurde",
        "180 Tage",
    ),
    Stored(
        "Kontaktanfragen (Name, E-Mail-Adresse, Betrieb, Nachricht)",
        "Beantwortung Ihrer Anfrage",
        "im Portal 30 Tage nach Versand an unser Service-Team",
    ),
    Stored(
        "Nachrichten zwischen den Diensten des Portals (z. B. „Registrierung bestätigt“)",
        "zuverlässige Weitergabe zwischen den Diensten, Wiederherstellung nach Störungen",
        "30 Tage; der Vermerk, dass eine Nachricht verarbeitet wurde (ohne Inhalt), 60 Tage",
    ),
    Stored(
        "Protokoll der Bearbeitung durch Mitarbeiterinnen und Mitarbeiter der Handwerkskammer (wer wann "
        "Ihr Konto oder Ihren Betrieb angesehen oder geändert hat; nur Kennungen, keine Namen oder Adressen)",
        "Nachweis, wer auf Ihre Daten zugegriffen hat (Rechenschaftspflicht, Art. 5 Abs. 2 DSGVO)",
        "3 Jahre; es kann in dieser Zeit von niemandem geändert werden",
    ),
    Stored(
        "Löschvermerk nach dem Löschen Ihres Kontos (nur die Kennung des Kontos)",
        "damit Nachrichten zwischen den Diensten, die vor der Löschung unterwegs waren, Ihre Daten nicht "
        "wiederherstellen",
        "31 Tage",
    ),
    Stored(
        "Protokolle der Server (Zeitpunkt, aufgerufene Adresse ohne Parameter, IP-Adresse)",
        "Betrieb, Fehlersuche und Abwehr von Angriffen",
        "{log_days}",
    ),
)


def rows(log_days: str) -> list[Stored]:
    """The table; the log lifetime is the operators' (a setting), not the services'."""
    return [
        Stored(item.what, item.purpose, item.how_long.format(log_days=log_days)) if "{" in item.how_long else item
        for item in RETENTION
    ]
