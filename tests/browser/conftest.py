"""Fixtures of the browser tests: one Chromium for the session, a fresh context (cookies, storage)
and page per test, screenshots under test-output/<test>/NN-step.png."""

import pytest
from playwright.async_api import expect

from tests.support.browser import DESKTOP, Steps, chromium, log_in
from tests.support.client import Client
from tests.support.members import member_with_own_password

expect.set_options(timeout=10_000)  # auto-waiting assertions: a loaded CI machine gets time


@pytest.fixture(scope="session")
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def context(browser):
    context = await browser.new_context(viewport=DESKTOP, locale="de-DE", timezone_id="Europe/Berlin")
    context.set_default_timeout(15_000)
    yield context
    await context.close()


@pytest.fixture
async def page(context):
    return await context.new_page()


@pytest.fixture
def steps(page, test_output):
    """`await steps("name")`: a full-page screenshot, numbered in order, in this test's folder."""
    return Steps(page, test_output)


@pytest.fixture(scope="module")
async def member(portal):
    """A confirmed member of this module's portal with their own password: (e-mail, password)."""
    async with Client(portal.gateway_url) as client:
        return await member_with_own_password(portal, client, "browser")


@pytest.fixture(scope="module")
async def member_state(browser, portal, member):
    """The cookies of a browser where `member` logged in through the login form: pass as
    `browser.new_context(storage_state=member_state)`."""
    context = await browser.new_context(viewport=DESKTOP, locale="de-DE")
    page = await context.new_page()
    await page.goto(portal.gateway_url + "/login")
    await log_in(page, *member)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ihr persönliches Kundenkonto")
    state = await context.storage_state()
    await context.close()
    return state
