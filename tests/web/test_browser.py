"""A real headless Chromium (Debian's, no browser download) against the app served by uvicorn."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from app.ingest.service import ingest_day
from app.main import create_app
from app.models import Label
from tests.factories import activate_model_dir

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "_screenshots"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_url(settings, sessions, holder, tiny_model_dir):
    activate_model_dir(sessions, tiny_model_dir, name="tiny-browser")
    for day in (dt.date(2025, 3, 19), dt.date(2025, 3, 20)):
        ingest_day(sessions, day, settings, model=holder.get)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_label_a_paper_and_move_to_another_day(served_url, sessions):
    SCREENSHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto(f"{served_url}/?date=2025-03-19")
            first = page.locator(".paper").first
            paper_id = first.get_attribute("data-paper-id")
            up = first.locator(".vote.up")
            up.click()
            playwright_api.expect(up).to_have_attribute("aria-pressed", "true")
            with sessions() as session:
                label = session.get(Label, paper_id)
                assert label is not None and (label.interest, label.source) == (1, "web")
            first.locator("details summary").click()
            page.screenshot(path=str(SCREENSHOTS / "day-2025-03-19.png"), full_page=False)

            page.locator("#next-day").click()
            page.wait_for_url("**/?date=2025-03-20*")
            assert page.locator(".paper").count() > 0
            assert "2025-03-20" in page.locator(".summary").inner_text()

            page.locator("#prev-day").click()
            page.wait_for_url("**/?date=2025-03-19*")
            again = page.locator(f'.paper[data-paper-id="{paper_id}"] .vote.up')
            playwright_api.expect(again).to_have_attribute("aria-pressed", "true")
            again.click()  # clicking again clears the label
            playwright_api.expect(again).to_have_attribute("aria-pressed", "false")
            with sessions() as session:
                assert session.get(Label, paper_id) is None
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(f"{served_url}/?date=2025-03-19")
            phone.screenshot(path=str(SCREENSHOTS / "phone-2025-03-19.png"))
        finally:
            browser.close()
