"""The web console in a real headless Chromium (Debian's, driven by Playwright) against the
running services: log in, see the simulated meters, open one and see its charts, reboot it and
watch the command reach `succeeded`, set an NTP server (a bad one first: the API's message appears
beside the field) and see the configuration change; provisioning, users and audit pages; a viewer
sees no command buttons; a phone-width screen has no sideways scrolling. Screenshots of every page
go to .local/screenshots/. No page may log an error or violate the Content-Security-Policy."""

from __future__ import annotations

import re
import tempfile
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from msm_provisioner.domain.allowlist import imei_with_check_digit
from support.browser import chromium, headless_chromium
from support.console_stack import ADMIN, VIEWER, ConsoleStack, running_console_stack
from support.e2e import http, wait_for
from support.services import ROOT

pytestmark = pytest.mark.e2e
SHOTS = ROOT / ".local" / "screenshots"
TIMEOUT_MS = 30_000
EXPECTED_4XX = re.compile(r"Failed to load resource: .* status of 4\d\d")


@pytest.fixture(scope="module")
def stack(endpoints: Any, amqp_url: str, tmp_path_factory: Any) -> Iterator[ConsoleStack]:
    yield from running_console_stack(endpoints, amqp_url, tmp_path_factory.mktemp("e2e-console"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (`make test` installs it: make chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="msm-chromium-") as profile,
        headless_chromium(exe, profile) as context,
    ):
        yield context


class Console:
    """One browser page on the console, recording errors and CSP violations it sees."""

    def __init__(self, context: Any, base: str) -> None:
        self.base = base
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def _console(self, message: Any) -> None:
        # The browser logs every 4xx answer; the console shows those (a refused field) itself.
        if message.type == "error" and not EXPECTED_4XX.search(message.text):
            self.problems.append(f"console: {message.text}")

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.base + path)
        self.page.evaluate(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        return self.page

    def login(self, who: str, password: str) -> Any:
        page = self.open("/")
        page.get_by_label("Email or user name").fill(who)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        signed_in = page.get_by_role("button", name="Log out")
        refused = page.locator("#login-error")
        signed_in.or_(refused).first.wait_for(timeout=60_000)  # login may meet a database stall
        if refused.count():
            self.shot("login-refused")
            pytest.fail(f"login as {who} refused: {refused.inner_text()}")
        return page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        try:
            assert self.problems == [], self.problems
        finally:
            self.page.close()


@pytest.fixture
def admin(browser: Any, stack: ConsoleStack) -> Iterator[Console]:
    console = Console(browser, stack.url)
    console.login(ADMIN[0], ADMIN[1])
    yield console
    console.page.get_by_role("button", name="Log out").click()
    console.page.get_by_role("button", name="Sign in").wait_for()
    console.close()


def test_the_console_is_served_with_a_strict_csp(stack: ConsoleStack) -> None:
    with urllib.request.urlopen(f"{stack.url}/devices/anything") as resp:
        csp = resp.headers["Content-Security-Policy"]
        html = resp.read().decode()
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert '<div id="root">' in html and "<script>" not in html


def test_fleet_lists_the_meters_and_a_device_shows_charts(
    admin: Console, stack: ConsoleStack
) -> None:
    page = admin.page
    page.get_by_label("Search uuid or IMEI").fill(stack.tag)
    rows = page.locator("table.devices tbody tr")
    for device in stack.devices:
        page.get_by_role("link", name=device).wait_for()
    assert rows.count() == len(stack.devices)
    assert rows.filter(has_text="online").count() == len(stack.devices)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=count-total]').textContent !== '…'"
    )
    admin.shot("fleet")

    target = stack.devices[0]
    page.get_by_role("link", name=target).click()
    page.get_by_role("heading", name=target, level=1).wait_for()
    status = page.get_by_test_id("device-status")
    status.get_by_text("online").wait_for()
    # Meters report every 2 s: wait until the bucketed query has points, refreshing as needed.
    voltage = page.locator("figure.chart").filter(has_text="Voltage")
    for _ in range(30):
        if int(voltage.get_attribute("data-points") or 0) > 0:
            break
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(1000)
    assert int(voltage.get_attribute("data-points") or 0) > 0
    assert voltage.locator("canvas").count() == 1
    assert page.locator("figure.chart").count() == 5  # voltage, current, P, Q, temperature
    page.get_by_role("table", name="Latest readings per channel and phase").wait_for()
    admin.shot("device")


def test_reboot_and_ntp_commands_update_live(admin: Console, stack: ConsoleStack) -> None:
    page = admin.open(f"/devices/{stack.devices[1]}")
    page.get_by_role("button", name="Reboot…").click()
    page.get_by_role("button", name="Reboot now").click()
    state = page.locator(".reboot [data-testid=command-state]")
    state.get_by_text("succeeded").wait_for()

    ntp = page.get_by_test_id("config-ntp")
    ntp.get_by_role("button", name="Set NTP…").click()
    field = ntp.get_by_label("NTP server 1")
    field.fill("not a host!")
    ntp.get_by_role("button", name="Send NTP command").click()
    error = ntp.locator("#ntp-server_1-error")
    error.wait_for()
    assert field.get_attribute("aria-invalid") == "true" and error.inner_text().strip()
    admin.shot("device-ntp-error")

    field.fill("time.example.org")
    ntp.get_by_role("button", name="Send NTP command").click()
    ntp.get_by_test_id("command-state").get_by_text("succeeded").wait_for()
    ntp.locator("dd[data-field=server_1]", has_text="time.example.org").wait_for()

    history = page.get_by_test_id("command-history")
    reboot = history.locator("li", has_text="reboot").first
    reboot.locator("summary").click()
    transitions = reboot.get_by_role("table").locator("tbody tr").all_inner_texts()
    assert [t.split()[0] for t in transitions] == ["queued", "sent", "succeeded"]
    admin.shot("device-commands")


def test_a_queued_command_is_cancelled(admin: Console, stack: ConsoleStack) -> None:
    device = stack.devices[3]
    stack.fleet.take_offline(device)  # an offline meter's commands wait in the queue
    token = stack.token()
    wait_for(
        f"{device} offline in the API",
        lambda: (
            not http("GET", f"{stack.url}/api/devices/{device}/status", token=token)[1]["online"]
        ),
        30,
    )
    try:
        page = admin.open(f"/devices/{device}")
        page.get_by_role("button", name="Reboot…").click()
        page.get_by_role("button", name="Reboot now").click()
        page.locator(".reboot [data-testid=command-state]").get_by_text("queued").wait_for()
        page.get_by_role("button", name="Cancel reboot").click()
        page.locator(".reboot [data-testid=command-state]").get_by_text("cancelled").wait_for()
        history = page.get_by_test_id("command-history").locator("li", has_text="reboot").first
        history.get_by_text("cancelled").first.wait_for()
        assert page.get_by_role("button", name="Cancel reboot").count() == 0
        admin.shot("device-cancelled")
    finally:
        stack.fleet.bring_online(device)


def test_provisioning_users_and_audit_pages(admin: Console, stack: ConsoleStack) -> None:
    page = admin.page
    page.get_by_role("link", name="Provisioning").click()
    imeis = [imei_with_check_digit(f"35{n:012d}") for n in (1, 2)]
    manifest = f"serial,imei\nCONSOLE-000001,{imeis[0]}\nCONSOLE-000002,{imeis[1]}\n"
    page.get_by_label(re.compile("CSV file")).set_input_files(
        {"name": "allowlist.csv", "mimeType": "text/csv", "buffer": manifest.encode()}
    )
    page.get_by_text("2 rows, columns serial, imei").wait_for()
    page.get_by_role("button", name="Upload").click()
    page.get_by_text(re.compile("Imported 2 rows")).wait_for()
    page.get_by_role("rowheader", name="CONSOLE-000002").wait_for()
    admin.shot("provisioning")

    page.get_by_role("link", name="Users").click()
    page.get_by_role("cell", name=VIEWER[1]).wait_for()
    page.get_by_label("User name").fill("e2e-operator")
    page.get_by_label("Email").fill("e2e-operator@example.com")
    page.get_by_label(re.compile("^Password")).fill("short")
    page.get_by_role("button", name="Add user").click()
    page.locator("#reg-password-error").wait_for()  # the API's message beside the field
    page.get_by_label(re.compile("^Password")).fill("e2e-operator-password-1")
    page.get_by_role("button", name="Add user").click()
    page.get_by_text("e2e-operator can now sign in.").wait_for()
    assert page.get_by_label(re.compile("^Password")).input_value() == ""
    admin.shot("users")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("cell", name="user.register").first.wait_for()
    admin.shot("audit")


def test_a_viewer_sees_no_command_buttons(browser: Any, stack: ConsoleStack) -> None:
    viewer = Console(browser, stack.url)
    page = viewer.login(VIEWER[0], VIEWER[2])
    page.locator(".who", has_text="(viewer)").wait_for()  # permissions loaded
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["Fleet"]
    page.goto(f"{stack.url}/devices/{stack.devices[2]}")
    page.get_by_test_id("config-ntp").wait_for()
    page.get_by_role("heading", name="Command history").wait_for()
    page.get_by_text("Latest readings").wait_for()
    assert page.get_by_role("button", name=re.compile("Reboot|Set |Cancel")).count() == 0
    viewer.shot("device-viewer")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    viewer.close()


def test_phone_width_has_no_sideways_scrolling(admin: Console, stack: ConsoleStack) -> None:
    page = admin.page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        for path in ("/", f"/devices/{stack.devices[0]}"):
            admin.open(path)
            page.locator("main h1").wait_for()
            page.wait_for_timeout(500)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
            admin.shot("phone-" + ("fleet" if path == "/" else "device"))
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
