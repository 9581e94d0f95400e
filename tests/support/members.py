"""Getting a member to a known state through the portal itself, the way a person would."""

from tests.support.client import Client, new_email
from tests.support.mail import extract_password, extract_token_link

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
NEW_PASSWORD = "Dachrinne im Herbst reinigen"


async def confirmed_member(portal, client: Client, tag: str = "member") -> tuple[str, str]:
    """Register and confirm; returns (e-mail, initial password) as read from the mails."""
    email = new_email(tag)
    status, _ = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
    assert status == 202
    mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)
    token = extract_token_link(mail.text).split("token=", 1)[1]
    status, _ = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token})
    assert status == 200
    mail = await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)
    return email, extract_password(mail.text)


async def logged_in(client: Client, email: str, password: str) -> dict:
    status, body = await client.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
    assert status == 201, body
    return body


async def member_with_own_password(portal, client: Client, tag: str = "member") -> tuple[str, str]:
    """Confirmed, logged in, initial password replaced by NEW_PASSWORD."""
    email, initial = await confirmed_member(portal, client, tag)
    await logged_in(client, email, initial)
    status, body = await client.api(
        "POST", "/api/v1/accounts/password", {"current_password": initial, "new_password": NEW_PASSWORD}
    )
    assert status == 204, body
    return email, NEW_PASSWORD
