from uuid import uuid4

from runtime.crypto import generate_keypair
from services.notifications import domain, schedule
from services.notifications.delivery import deliver
from services.notifications.mailer import PermanentMailError, ServerUnavailable
from services.notifications.rendering import Composer
from tests.unit.notifications.fakes import FakeMailer
from tests.unit.notifications.sample import NOW


def queued(event, attempts: int = 1) -> domain.QueuedMail:
    [mail] = domain.mails_for(event)
    return domain.QueuedMail(
        uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, attempts, schedule.useful_until(mail)
    )


async def test_fake_mailer_keeps_what_it_sends(composer, events):
    mailer = FakeMailer()
    assert await deliver(queued(events["confirmed"]), composer, mailer, NOW) is None
    [message] = mailer.to(events["confirmed"].email)
    assert message["Subject"] == domain.SUBJECTS[domain.INITIAL_PASSWORD]
    assert mailer.to("someone-else@example.de") == []


async def test_a_server_outage_is_a_failure_to_retry(composer, events):
    mailer = FakeMailer()
    mailer.fail_with = ConnectionRefusedError("smtp down")
    failure = await deliver(queued(events["registered"]), composer, mailer, NOW)
    assert failure is not None and not failure.permanent and failure.server
    assert "ConnectionRefusedError" in failure.error
    assert mailer.sent == []


async def test_a_server_that_turns_everyone_away_is_down_not_the_mail(composer, events):
    mailer = FakeMailer()
    mailer.fail_with = ServerUnavailable("421 shutting down")
    failure = await deliver(queued(events["confirmed"]), composer, mailer, NOW)
    assert failure is not None and failure.server and not failure.permanent


async def test_a_mailbox_that_is_busy_is_this_mails_problem(composer, events):
    mailer = FakeMailer()
    mailer.fail_with = RuntimeError("450 mailbox busy")
    failure = await deliver(queued(events["confirmed"]), composer, mailer, NOW)
    assert failure is not None and not failure.server and not failure.permanent


async def test_a_refusal_for_good_is_permanent(composer, events):
    mailer = FakeMailer()
    mailer.fail_with = PermanentMailError("550 no such user")
    failure = await deliver(queued(events["reset"]), composer, mailer, NOW)
    assert failure is not None and failure.permanent and not failure.server


async def test_a_box_sealed_to_another_key_is_permanent_and_leaks_nothing(composer, events):
    stranger = Composer(composer.letterhead, generate_keypair()[1])
    failure = await deliver(queued(events["registered"]), stranger, FakeMailer(), NOW)
    assert failure is not None and failure.permanent
    assert "token" not in failure.error


async def test_the_error_kept_for_a_mail_has_no_secret(composer, events):
    mailer = FakeMailer()
    link = events["secrets"]["confirm"]
    mailer.fail_with = RuntimeError(f"server said no to {link}")
    failure = await deliver(queued(events["registered"]), composer, mailer, NOW)
    token = link.split("token=")[1]
    assert failure is not None and token not in failure.error
