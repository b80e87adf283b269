"""The web page in a real headless Chromium (Selenium): a question streams an answer, a [1] opens its quote."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from bot.config import Settings
from bot.server.app import build_app
from bot.service import Newsbot
from tests.bot.server.conftest import QUESTION

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=de-DE"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_question_streams_an_answer_whose_marker_opens_the_quote(
    settings: Settings, newsbot: Newsbot, live_server: Callable[[FastAPI], str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server(build_app(settings, newsbot)) + "/")
    wait = WebDriverWait(browser, 20)
    assert browser.find_element(By.ID, "ask").text == "Fragen", "the page speaks the browser's language"
    browser.find_element(By.ID, "question").send_keys(QUESTION)
    browser.find_element(By.ID, "ask").click()
    marker = wait.until(
        shown.element_to_be_clickable((By.CSS_SELECTOR, '.answer button.marker[data-marker="1"]'))
    )
    answer = browser.find_element(By.CSS_SELECTOR, ".answer").text
    assert "[1]" in answer and "Komsomolsk" in answer
    marker.click()
    quote = wait.until(shown.visibility_of_element_located((By.CSS_SELECTOR, ".quote mark")))
    assert quote.text and quote.text in answer, "the quoted sentence is the one the answer shows"
    labels = [item.text for item in browser.find_elements(By.CSS_SELECTOR, ".quote .label")]
    assert any(label.startswith(("Absatz", "Überschrift")) for label in labels)
    assert browser.get_cookies() == []
