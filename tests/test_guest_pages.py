"""The guest pages (pub-api-2026.md section 11): in a headless chromium at phone width against the
app served live (a deposit paid through a respx PayPal, a party changed and a booking cancelled,
keyboard only), and over HTTP: every blocked reason, refusals in words, the form checks, the
throttle, the manage link in confirmations, and each page's accessibility (labels, one h1, the
language, the stylesheet's contrast, visible focus). Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import asyncpg
import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.pages import environment
from app.services import guest_pages, tokens
from app.services.notifications import with_manage_link
from app.services.sms_text import sms_encoding
from tests.browser import (  # noqa: F401  (fixtures used by name)
    LiveServer,
    browser,
    chromium,
    live_server,
    screenshot,
)
from tests.conftest import FakeClock, create_booking, regular_body
from tests.pub_floor import add_live_join_links
from tests.test_deposits_by_rule import pay_as, small_floor
from tests.test_payments import (  # noqa: F401  (fixtures used by name)
    CAPTURE_ID,
    ORDER_ID,
    FakePayPal,
    app,
    captured,
    order_body,
    outbox,
    paypal,
    paypal_settings,
    run_worker,
)
from tests.test_website_2026_create import WEBSITE_SCOPES, post, two_eights, website_body

FRIDAY = "2026-12-11"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BOTH = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)


@pytest.fixture
def live(paypal_settings: Settings, database_url: str, clock: FakeClock) -> Iterator[LiveServer]:  # noqa: F811
    """The app (PayPal configured) served live on the test's database."""
    with live_server(paypal_settings, database_url, clock) as served:
        yield served


async def link(db: PostgresDatabase, booking_id: str, action: Any, expires_at: datetime) -> str:
    return await tokens.issue_guest_token(
        db, booking_id=booking_id, action=action, expires_at=expires_at
    )


async def manage_link(db: PostgresDatabase, made: dict[str, Any], now: datetime) -> str:
    starts = datetime.fromisoformat(made["confirmation_details"]["date"] + "T19:00:00+00:00")
    return await link(db, made["booking_id"], "manage", guest_pages.manage_link_expiry(starts, now))


async def post_form(client: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    return await client.post(url, data=fields, headers=FORM)


async def booking(conn: asyncpg.Connection, booking_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "select status::text, party_size, special_requirements, cancelled_by,"
        " cancellation_reason, payment_status::text, paypal_deposit_capture_id,"
        " (select string_agg(t.name, ' + ' order by t.name) from booking_table_assignments a"
        "   join tables t on t.id = a.table_id where a.table_booking_id = b.id) as tables"
        " from table_bookings b where id = $1::uuid",
        booking_id,
    )
    assert row is not None
    return row


def text_of(response: httpx.Response) -> str:
    """The page's words, tags and entities out."""
    words = re.sub(r"<style>.*?</style>|<[^>]+>", " ", response.text, flags=re.DOTALL)
    words = words.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    return re.sub(r"\s+", " ", words)


def heading(response: httpx.Response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.text, flags=re.DOTALL)
    assert found is not None, response.text
    return found.group(1).replace("&#39;", "'")


def call_button(response: httpx.Response) -> bool:
    main = response.text.split("<main", 1)[1].split("</main>", 1)[0]
    return 'href="tel:+441753682707"' in main


# In the browser -----------------------------------------------------------------------------


def wait_for(driver: webdriver.Chrome, css: str) -> Any:
    """The element, once the page showing it has loaded (up to 10 seconds)."""
    return WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, css), f"{css} never appeared"
    )[0]


def tab_to(driver: webdriver.Chrome, element_id: str, *, limit: int = 40) -> None:
    """Press Tab until the element (#id, or a CSS selector) has the focus, as a keyboard user
    would."""
    selector = element_id if any(c in element_id for c in " .[#:") else f"#{element_id}"
    for _ in range(limit):
        if driver.execute_script("return document.activeElement.matches(arguments[0])", selector):
            return
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError(f"Tab never reached {selector}")


def focus_ring(driver: webdriver.Chrome) -> tuple[str, str]:
    style = driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [s.outlineStyle, s.outlineWidth];"
    )
    return str(style[0]), str(style[1])


async def test_a_party_of_sixteen_pays_its_deposit_in_the_browser(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
    live: LiveServer,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    assert made["status"] == "pending_payment"
    hold = clock.now + timedelta(hours=24)
    token = await link(db, made["booking_id"], "payment", hold)
    # PayPal's approval, standing in: its approve link sends the payer straight back to us.
    back = live.url(f"/g/{token}/table-payment/return?token={ORDER_ID}&PayerID=QYR5Z8XDVJNXQ")
    order = order_body(value="160.00")
    order["links"] = [{"href": back, "rel": "payer-action", "method": "GET"}]
    paypal.get.respond(200, json=order)
    paypal.capture.respond(201, json=captured("160.00"))

    browser.get(live.url(f"/g/{token}/table-payment"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pay your deposit"
    assert browser.find_element(By.ID, "deposit").text == "£160.00"
    assert browser.find_element(By.ID, "pay-by").text == "10:00 on Wednesday 25 November"
    pay = browser.find_element(By.ID, "pay")
    assert pay.text == "Pay £160.00 with PayPal"
    assert browser.execute_script("return window.innerWidth") == 390
    screenshot(browser, "table-payment")

    pay.click()
    paid = wait_for(browser, "#paid")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Deposit paid: you're booked in"
    assert "Your £160.00 deposit is paid" in paid.text
    assert browser.current_url == live.url(f"/g/{token}/table-payment")
    screenshot(browser, "table-payment-paid")

    assert paypal.capture.call_count == 1
    row = await booking(conn, made["booking_id"])
    assert (row["status"], row["payment_status"], row["paypal_deposit_capture_id"]) == (
        "confirmed",
        "completed",
        CAPTURE_ID,
    )


async def test_a_guest_changes_the_party_and_cancels_by_keyboard_in_the_browser(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    live: LiveServer,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    await small_floor(conn)
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 4))
    assert (await booking(conn, made["booking_id"]))["tables"] == "Table 3"
    token = await manage_link(db, made, clock.now)
    page = live.url(f"/g/{token}/table-manage")

    browser.get(page)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hi Ann, here's your booking"
    assert browser.find_element(By.ID, "party-size").text == "4"
    assert "Table 3" in browser.find_element(By.CLASS_NAME, "facts").text
    screenshot(browser, "table-manage")

    # Keyboard only: Tab to each control (its focus ring showing), type, Enter to send.
    tab_to(browser, "party_size")
    assert focus_ring(browser) == ("solid", "3px")
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(
        "6"
    ).perform()
    tab_to(browser, "special_requirements")
    assert focus_ring(browser) == ("solid", "3px")
    ActionChains(browser).send_keys("A birthday: candles at 9").perform()
    tab_to(browser, "save")
    assert focus_ring(browser) == ("solid", "3px")
    ActionChains(browser).send_keys(Keys.ENTER).perform()

    notice = wait_for(browser, "#result")
    assert notice.text == "Done: your booking has been updated."
    assert browser.current_url == page + "?status=updated"
    assert browser.find_element(By.ID, "party-size").text == "6"
    row = await booking(conn, made["booking_id"])
    # Re-seated by the engine: six do not fit the table of four.
    assert (row["party_size"], row["special_requirements"]) == (6, "A birthday: candles at 9")
    assert row["tables"] in ("Table 1", "Table 2")
    screenshot(browser, "table-manage-updated")

    tab_to(browser, "reason")
    Select(browser.find_element(By.ID, "reason")).select_by_value("illness")
    tab_to(browser, "detail")
    ActionChains(browser).send_keys("Flu, sorry").perform()
    tab_to(browser, "cancel")
    ActionChains(browser).send_keys(Keys.ENTER).perform()

    notice = wait_for(browser, "#result")
    assert notice.text.startswith("Your booking has been cancelled.")
    assert browser.find_element(By.ID, "status").text == "Cancelled"
    assert browser.find_elements(By.TAG_NAME, "form") == []
    screenshot(browser, "table-manage-cancelled")
    row = await booking(conn, made["booking_id"])
    assert (row["status"], row["cancelled_by"], row["cancellation_reason"]) == (
        "cancelled",
        "guest",
        "illness: Flu, sorry",
    )


async def test_expired_used_and_unknown_links_say_so_with_a_call_button_in_the_browser(
    client: httpx.AsyncClient,
    key: dict[str, str],
    db: PostgresDatabase,
    clock: FakeClock,
    live: LiveServer,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    made = await create_booking(client, key, regular_body())
    expired = await link(db, made["booking_id"], "manage", clock.now - timedelta(minutes=1))
    used = await link(db, made["booking_id"], "manage", clock.now + timedelta(days=1))
    opened = await tokens.open_guest_token(db, used, action="manage", now=clock.now)
    assert await tokens.consume_guest_token(db, opened["token_id"], now=clock.now)
    cases = [
        (expired, "table-manage", "This link has expired", "link-expired"),
        (used, "table-manage", "This link has already been used", "link-used"),
        ("x" * 43, "table-payment", "We can't find that link", "link-unknown"),
    ]
    for token, page, words, name in cases:
        browser.get(live.url(f"/g/{token}/{page}"))
        assert browser.find_element(By.TAG_NAME, "h1").text == words
        call = browser.find_element(By.CSS_SELECTOR, "main a.button[href^='tel:']")
        assert call.get_attribute("href") == "tel:+441753682707"
        assert call.text == "Call us on 01753 682707"
        # The call button is reached by keyboard too, its focus showing.
        tab_to(browser, "main a.button[href^='tel:']")
        assert focus_ring(browser) == ("solid", "3px")
        screenshot(browser, name)


# Over HTTP: the payment page --------------------------------------------------------------


async def test_every_blocked_reason_of_the_payment_page_in_words(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    now = clock.now
    later = now + timedelta(days=2)
    pending = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    confirmed = await create_booking(client, key, regular_body(FRIDAY, "12:00", 2))

    async def page(token: str) -> httpx.Response:
        return await client.get(f"/g/{token}/table-payment")

    seen: dict[str, httpx.Response] = {}
    seen["invalid_token"] = await page("no-such-link-0123456789")
    for odd in ("x" * 500, "%00", "a.b", "é" * 30):
        assert heading(await page(odd)) == guest_pages.BLOCKED["invalid_token"][0], odd
    token = await link(db, pending["booking_id"], "payment", later)
    opened = await tokens.open_guest_token(db, token, action="payment", now=now)
    await tokens.consume_guest_token(db, opened["token_id"], now=now)
    seen["token_used"] = await page(token)
    seen["token_expired"] = await page(await link(db, pending["booking_id"], "payment", now))
    seen["booking_not_pending_payment"] = await page(
        await link(db, confirmed["booking_id"], "payment", later)
    )
    lonely = await link(db, confirmed["booking_id"], "payment", later)
    await conn.execute(
        "update guest_tokens set table_booking_id = null where hashed_token = $1",
        tokens.hash_token(lonely),
    )
    seen["booking_not_found"] = await page(lonely)
    stranger = await link(db, pending["booking_id"], "payment", later)
    other = await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number)"
        " values ('Bo', 'Other', '+447700900999') returning id"
    )
    await conn.execute(
        "update guest_tokens set customer_id = $2 where hashed_token = $1",
        tokens.hash_token(stranger),
        other,
    )
    seen["token_customer_mismatch"] = await page(stranger)
    token = await link(db, pending["booking_id"], "payment", later)
    assert (await page(token)).status_code == 200
    for _ in range(guest_pages.PAGE_LIMIT - 1):
        await page(token)
    seen["rate_limited"] = await page(token)
    free = await create_booking(client, key, regular_body(FRIDAY, "13:00", 2))
    await conn.execute(
        "update table_bookings set status = 'pending_payment', hold_expires_at = $2,"
        " deposit_amount = 0 where id = $1::uuid",
        free["booking_id"],
        later,
    )
    seen["invalid_amount"] = await page(await link(db, free["booking_id"], "payment", later))
    clock.advance(hours=25)  # past the hold (24 hours)
    seen["hold_expired"] = await page(await link(db, pending["booking_id"], "payment", later))

    assert set(seen) == set(guest_pages.BLOCKED)
    for reason, response in seen.items():
        words, sentence = guest_pages.BLOCKED[reason]
        assert heading(response) == words, reason
        assert sentence in text_of(response), reason
        assert f'data-reason="{reason}"' in response.text
        assert call_button(response), reason
        assert response.headers["cache-control"] == "no-store"
    assert seen["rate_limited"].status_code == 429
    assert seen["invalid_token"].status_code == 404


async def test_paid_shows_the_success_panel_and_cancelled_at_paypal_says_not_completed(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    token = await link(db, made["booking_id"], "payment", clock.now + timedelta(hours=24))

    cancelled = await client.get(f"/g/{token}/table-payment", params={"state": "cancelled"})
    assert 'id="not-completed"' in cancelled.text
    assert "Your payment was not completed, so nothing has been taken." in text_of(cancelled)
    assert "Pay £160.00 with PayPal" in cancelled.text

    # Pay: the stored order, open at £160.00, is reused and the guest sent to approve it.
    start = await client.post(f"/g/{token}/table-payment", headers=FORM)
    assert start.status_code == 303
    assert start.headers["location"] == order_body()["links"][1]["href"]
    assert paypal.create.call_count == 1  # the create's own order, none since

    # A return for another order captures nothing.
    wrong = await client.get(f"/g/{token}/table-payment/return", params={"token": "9XY"})
    assert wrong.status_code == 400
    assert "That payment isn't the one for this booking" in text_of(wrong)
    assert paypal.capture.call_count == 0

    back = await client.get(f"/g/{token}/table-payment/return", params={"token": ORDER_ID})
    assert back.status_code == 303
    assert back.headers["location"] == f"/g/{token}/table-payment"
    done = await client.get(f"/g/{token}/table-payment")
    assert heading(done) == "Deposit paid: you're booked in"
    assert 'id="pay"' not in done.text
    # A refresh of the return is the same success, not a second capture.
    again = await client.get(f"/g/{token}/table-payment/return", params={"token": ORDER_ID})
    assert again.headers["location"] == f"/g/{token}/table-payment"
    assert paypal.capture.call_count == 1


@pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
async def test_a_deposit_paid_through_the_page_on_the_pubs_database(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    await add_live_join_links(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    assert made["status"] == "pending_payment"
    token = await link(db, made["booking_id"], "payment", clock.now + timedelta(hours=24))
    due = await client.get(f"/g/{token}/table-payment")
    assert "Pay £160.00 with PayPal" in due.text
    assert "10:00 on Wednesday 25 November" in text_of(due)
    assert (await client.post(f"/g/{token}/table-payment", headers=FORM)).status_code == 303
    back = await client.get(f"/g/{token}/table-payment/return", params={"token": ORDER_ID})
    assert back.headers["location"] == f"/g/{token}/table-payment"
    assert heading(await client.get(back.headers["location"])) == "Deposit paid: you're booked in"
    row = await booking(conn, made["booking_id"])
    assert (row["status"], row["payment_status"]) == ("confirmed", "completed")


@BOTH
async def test_the_websites_booking_is_paid_on_its_next_step_page_and_then_managed(
    client: httpx.AsyncClient,
    make_key: Any,
    conn: asyncpg.Connection,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    """The 2026 create's next_step_url is this page; once paid, the guest's "Deposit sorted"
    text carries the manage link."""
    await two_eights(conn)
    pay_as(paypal, "160.00")
    website = await make_key(WEBSITE_SCOPES)
    created = await post(client, website, website_body(16, skip_customer_sms=False))
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["state"] == "pending_payment"
    found = re.fullmatch(
        r"https://tb\.example(/g/[A-Za-z0-9_-]{43}/table-payment)", data["next_step_url"]
    )
    assert found is not None, data["next_step_url"]
    page = found.group(1)
    assert "Pay £160.00 with PayPal" in (await client.get(page)).text
    assert (await client.post(page, headers=FORM)).status_code == 303
    back = await client.get(page + "/return", params={"token": ORDER_ID})
    assert back.headers["location"] == page
    assert heading(await client.get(page)) == "Deposit paid: you're booked in"

    await run_worker(client)
    [sms] = [
        m
        for m in await outbox(conn, "booking_confirmation_deposit_sorted")
        if m["channel"] == "sms"
    ]
    manage = re.search(r"https://tb\.example(/g/[A-Za-z0-9_-]{43}/table-manage)", sms["body"])
    assert manage is not None, sms["body"]
    assert sms["body"].startswith("Hi Ann, Deposit sorted - your table for 16 people")
    assert sms_encoding(sms["body"]).segments <= 2
    shown = await client.get(manage.group(1))
    assert "Confirmed" in text_of(shown) and data["booking_reference"] in shown.text


# Over HTTP: the manage page ---------------------------------------------------------------


@BOTH
async def test_the_manage_page_changes_and_cancels_as_the_guest(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
) -> None:
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    url = f"/g/{await manage_link(db, made, clock.now)}/table-manage"
    shown = await client.get(url)
    assert shown.status_code == 200
    words = text_of(shown)
    assert "Friday 11 December 2026 at 19:00" in words and made["booking_reference"] in words

    too_many = await post_form(client, url, intent="update", party_size="21")
    assert too_many.headers["location"] == url + "?status=error&reason=party_size"
    refused = await client.get(too_many.headers["location"])
    assert guest_pages.REFUSALS["party_size"] in text_of(refused)
    assert (await booking(conn, made["booking_id"]))["party_size"] == 2

    changed = await post_form(
        client, url, intent="update", party_size="3", special_requirements="High chair\x1b[31m"
    )
    assert changed.headers["location"] == url + "?status=updated"
    row = await booking(conn, made["booking_id"])
    assert (row["party_size"], row["special_requirements"]) == (3, "High chair")

    long = await post_form(
        client, url, intent="update", party_size="3", special_requirements="x" * 501
    )
    assert long.headers["location"] == url + "?status=error&reason=requirements"

    no_reason = await post_form(client, url, intent="cancel", reason="because")
    assert no_reason.headers["location"] == url + "?status=error&reason=cancel_reason"
    gone = await post_form(client, url, intent="cancel", reason="plans_changed")
    assert gone.headers["location"] == url + "?status=cancelled"
    row = await booking(conn, made["booking_id"])
    assert (row["status"], row["cancelled_by"], row["cancellation_reason"]) == (
        "cancelled",
        "guest",
        "plans_changed",
    )
    after = await client.get(url)
    assert "<form" not in after.text and "Cancelled" in text_of(after)
    again = await post_form(client, url, intent="update", party_size="2")
    assert again.headers["location"] == url + "?status=error&reason=closed"
    assert (await booking(conn, made["booking_id"]))["party_size"] == 3


async def test_a_change_the_floor_cannot_seat_is_refused_in_words(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
) -> None:
    await small_floor(conn)  # two joined tables of 8 and one of 4
    await create_booking(client, key, regular_body(FRIDAY, "19:00", 8, phone="07700 900456"))
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 4))
    url = f"/g/{await manage_link(db, made, clock.now)}/table-manage"
    # Ten would need both tables of 8, and one of them is taken.
    refused = await post_form(client, url, intent="update", party_size="10")
    assert refused.headers["location"] == url + "?status=error&reason=no_table"
    page = await client.get(refused.headers["location"])
    assert 'role="alert"' in page.text
    assert guest_pages.REFUSALS["no_table"] in text_of(page)
    assert (await booking(conn, made["booking_id"]))["party_size"] == 4


async def test_a_booking_awaiting_its_deposit_is_shown_not_editable_with_a_link_to_pay(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    url = f"/g/{await manage_link(db, made, clock.now)}/table-manage"
    page = await client.get(url)
    words = text_of(page)
    assert "Waiting for the deposit" in words
    assert "for your deposit of £160.00" in words
    assert "<form" not in page.text
    pay = re.search(r'href="(https://tb\.example/g/([A-Za-z0-9_-]{43})/table-payment)"', page.text)
    assert pay is not None
    payment = await client.get(f"/g/{pay.group(2)}/table-payment")
    assert "Pay £160.00 with PayPal" in payment.text
    # A form sent anyway changes nothing.
    for fields in (
        {"intent": "update", "party_size": "17"},
        {"intent": "cancel", "reason": "other"},
    ):
        sent = await post_form(client, url, **fields)
        assert sent.headers["location"] == url + "?status=error&reason=awaiting_deposit"
    row = await booking(conn, made["booking_id"])
    assert (row["status"], row["party_size"]) == ("pending_payment", 16)


async def test_forms_from_another_site_change_nothing(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
) -> None:
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    url = f"/g/{await manage_link(db, made, clock.now)}/table-manage"
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        sent = await client.post(
            url, data={"intent": "cancel", "reason": "other"}, headers={**FORM, **headers}
        )
        assert sent.status_code == 403, headers
        assert heading(sent) == guest_pages.OTHER_SITE[0]
        assert call_button(sent)
    assert (await booking(conn, made["booking_id"]))["status"] == "confirmed"
    # Our own page's post (the browser's words for it) goes through.
    ours = await client.post(
        url,
        data={"intent": "update", "party_size": "3"},
        headers={**FORM, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert ours.headers["location"] == url + "?status=updated"


async def test_links_open_only_their_own_page_and_never_the_2025_api(
    client: httpx.AsyncClient, key: dict[str, str], db: PostgresDatabase, clock: FakeClock
) -> None:
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    manage = await manage_link(db, made, clock.now)
    payment = await link(db, made["booking_id"], "payment", clock.now + timedelta(days=1))
    assert (await client.get(f"/g/{payment}/table-manage")).status_code == 404
    assert (await client.get(f"/g/{manage}/table-payment")).status_code == 404
    detail = await client.get(
        f"/api/table-bookings/{made['booking_reference']}", headers={"X-Booking-Token": manage}
    )
    assert detail.status_code == 404
    # After the start the page still shows the booking, with nothing left to change.
    clock.set(datetime(2026, 12, 11, 19, 30, tzinfo=UTC))
    page = await client.get(f"/g/{manage}/table-manage")
    assert page.status_code == 200 and "<form" not in page.text
    assert "can't be changed online any more" in text_of(page)


async def test_a_link_used_too_often_waits(
    client: httpx.AsyncClient, key: dict[str, str], db: PostgresDatabase, clock: FakeClock
) -> None:
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    url = f"/g/{await manage_link(db, made, clock.now)}/table-manage"
    for _ in range(guest_pages.PAGE_LIMIT):
        assert (await client.get(url)).status_code == 200
    assert (await client.get(url)).status_code == 429
    sent = await post_form(client, url, intent="update", party_size="3")
    assert sent.headers["location"] == url + "?status=rate_limited"
    clock.advance(seconds=guest_pages.PAGE_WINDOW_SECONDS)
    assert (await client.get(url)).status_code == 200


# The manage link in confirmations ---------------------------------------------------------


def test_the_manage_link_lives_until_48_hours_after_the_start_within_its_bounds() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    friday = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    assert guest_pages.manage_link_expiry(friday, now) == friday + timedelta(hours=48)
    assert guest_pages.manage_link_expiry(now + timedelta(days=90), now) == now + timedelta(days=30)
    assert guest_pages.manage_link_expiry(now - timedelta(days=5), now) == now + timedelta(hours=1)


@pytest.mark.parametrize(
    "text",
    [
        "Hi Bartholomew, your table for 20 at The Anchor on Wednesday 30 September at 19:00 is "
        "confirmed. Reference: TB-8229A1B4. Reply STOP to opt out.",
        "Hi Bartholomew, your table for 20 at The Anchor on Wednesday 30 September at 19:00 is "
        "confirmed. Your £200.00 deposit is paid and comes off your bill on the day. Reference: "
        "TB-8229A1B4. Reply STOP to opt out.",
        "Hi Bartholomew, Deposit sorted - your table for 20 people on Wednesday 30 September at "
        "19:00 is locked in. See you then! Ref: TB-8229A1B4. Reply STOP to opt out.",
    ],
)
def test_a_confirmation_text_takes_its_link_within_two_segments(text: str) -> None:
    url = "https://book.the-anchor.pub/g/" + "A" * 43 + "/table-manage"
    linked = with_manage_link(text, url)
    assert url in linked and linked.endswith(" Reply STOP to opt out.")
    encoding = sms_encoding(linked)
    assert encoding.encoding == "GSM-7" and encoding.segments <= 2


def test_a_text_too_long_for_its_link_goes_as_it_was() -> None:
    text = (
        "Hi Bartholomew, your Sunday lunch booking for 20 on Wednesday 30 September at 19:00 is "
        "confirmed, and your roast choices are noted. £100.00 deposit paid, £334.46 due on "
        "arrival. Reference: TB-8229A1B4. Reply STOP to opt out."
    )
    assert with_manage_link(text, "https://book.the-anchor.pub/g/" + "A" * 43 + "/x") == text


@BOTH
async def test_the_confirmation_text_and_email_carry_a_manage_link_that_opens(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    clock: FakeClock,
    database_kind: str,
) -> None:
    body = regular_body(FRIDAY, "19:00", 2)
    body["customer"]["email"] = "ann@example.com"
    made = await create_booking(client, key, body)
    await run_worker(client)
    [sms, email] = await outbox(conn, "booking_confirmation_regular")
    found = re.search(r"https://tb\.example/g/([A-Za-z0-9_-]{43})/table-manage", sms["body"])
    assert found is not None, sms["body"]
    if database_kind == "fresh":
        assert sms["body"] == (
            "Hi Ann, your table for 2 at The Anchor on Friday 11 December at 19:00 is confirmed. "
            f"Reference: {made['booking_reference']}. Manage your booking: {found.group(0)} "
            "Reply STOP to opt out."
        )
    else:  # the pub's own words for it, the link after them
        assert sms["body"].endswith(f"The Anchor\nManage your booking: {found.group(0)}")
    assert sms_encoding(sms["body"]).segments == 2
    assert f"To change or cancel your booking: {found.group(0)}" in email["body"]
    assert f"Or call us on 01753 682707 and quote {made['booking_reference']}." in email["body"]
    expires = await conn.fetchval(
        "select expires_at from guest_tokens where hashed_token = $1",
        tokens.hash_token(found.group(1)),
    )
    assert expires == datetime(2026, 12, 13, 19, 0, tzinfo=UTC)  # the start + 48 hours
    page = await client.get(f"/g/{found.group(1)}/table-manage")
    assert page.status_code == 200 and made["booking_reference"] in page.text


# Accessibility of each page's HTML ----------------------------------------------------------


class PageAudit(HTMLParser):
    """What the checks need from a page: its language, headings, labels and controls."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.h1 = 0
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.buttons: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def audit(html: str) -> PageAudit:
    found = PageAudit()
    found.feed(html)
    return found


async def test_every_page_is_labelled_with_one_h1_and_its_language(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    db: PostgresDatabase,
    clock: FakeClock,
    paypal: FakePayPal,  # noqa: F811
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    later = clock.now + timedelta(days=1)
    confirmed = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    pending = await create_booking(client, key, regular_body(FRIDAY, "20:00", 16))
    pages = {
        "manage": f"/g/{await manage_link(db, confirmed, clock.now)}/table-manage",
        "manage awaiting": f"/g/{await manage_link(db, pending, clock.now)}/table-manage",
        "payment": f"/g/{await link(db, pending['booking_id'], 'payment', later)}/table-payment",
        "blocked": "/g/unknown-link-0123456789/table-payment",
    }
    pages["manage updated"] = pages["manage"] + "?status=updated"
    pages["manage refused"] = pages["manage"] + "?status=error&reason=no_table"
    for name, url in pages.items():
        response = await client.get(url)
        page = audit(response.text)
        assert page.lang == "en-GB", name
        assert page.h1 == 1, name
        for control in page.controls:
            assert control.get("id") in page.labels, (name, control)
        assert all(page.buttons), name  # every button says what it does
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in (
            response.text
        )
    manage = audit((await client.get(pages["manage"])).text)
    assert {c["id"] for c in manage.controls} == {
        "party_size",
        "special_requirements",
        "reason",
        "detail",
    }


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


_HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")


def stylesheet_rules() -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", str(environment().globals["stylesheet"]), flags=re.DOTALL)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        declarations: dict[str, str] = {}
        for part in body.split(";"):
            name, _, value = part.partition(":")
            if value.strip():
                declarations[name.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.append((selector.strip(), declarations))
    return rules


def colour_pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets either: a compound class
    (``.button.danger``) inherits what its base (``.button``) sets; a text colour without a
    background is read on the page and on a card, a background without one under the body's."""
    rules = stylesheet_rules()
    body = dict(next(d for s, d in rules if s == "body"))
    page_bg = _HEX.findall(body["background"])[0]
    text = _HEX.findall(body["color"])[0]

    def colour(declarations: dict[str, str], *names: str) -> str | None:
        for name in names:
            found: list[str] = _HEX.findall(declarations.get(name, ""))
            if found:
                return found[0]
        return None

    pairs = []
    for selector, declarations in rules:
        fg = colour(declarations, "color")
        bg = colour(declarations, "background", "background-color")
        if fg is None and bg is None:
            continue
        classes = set(re.findall(r"\.[\w-]+", selector))
        for base, inherited in rules:
            base_classes = set(re.findall(r"\.[\w-]+", base))
            if base_classes and base_classes < classes and selector.startswith(base.split(".")[0]):
                fg = fg or colour(inherited, "color")
                bg = bg or colour(inherited, "background", "background-color")
        for background in [bg] if bg else [page_bg, "#fff"]:
            pairs.append((selector, fg or text, background))
    return pairs


def test_the_stylesheets_colour_pairs_have_aa_contrast() -> None:
    pairs = colour_pairs()
    selectors = {s for s, _, _ in pairs}
    assert {".button", ".button.secondary", ".button.danger", ".notice.warn", ".hint"} <= selectors
    low = [(s, fg, bg, round(contrast(fg, bg), 2)) for s, fg, bg in pairs if contrast(fg, bg) < 4.5]
    assert low == []


def test_focus_is_visible_on_every_control() -> None:
    rules = stylesheet_rules()
    focus = {s: d for s, d in rules if ":focus-visible" in s}
    for control in (".button", "a", "input", "select", "textarea"):
        declarations = focus[f"{control}:focus-visible"]
        ring = _HEX.findall(declarations["outline"])[0]
        assert "solid" in declarations["outline"]
        # A focus ring is a non-text contrast: 3:1 against the page and the cards.
        assert contrast(ring, "#f6f4ef") >= 3 and contrast(ring, "#fff") >= 3
