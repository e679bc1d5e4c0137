"""Driving the app page in the browser: connect the wallet, fill and submit a form, click a table's
action button, and wait for what the page shows (WebDriverWait on DOM conditions, no sleeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# @dev States a form's result or a transaction log entry ends in.
DONE = {"confirmed", "failed", "refused", "rejected", "signed"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


class AppPage:
    def __init__(self, driver: Any, url: str, timeout: float = 60.0) -> None:
        self.driver = driver
        self.url = url
        self.timeout = timeout

    def wait(self, predicate: Any, what: str, timeout: float | None = None) -> Any:
        def check(_: Any) -> Any:
            return predicate()

        try:
            return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.2).until(check)
        except Exception as exc:  # a timeout, or what the predicate raised: both name what was awaited
            error = self.driver.execute_script("return document.getElementById('error').textContent")
            log = self.driver.execute_script("return document.getElementById('txlog').innerText")
            raise AssertionError(
                f"the page never showed {what} ({type(exc).__name__}); error line {error!r}; transactions {log!r}"
            ) from None

    def open(self, url: str | None = None) -> AppPage:
        """Load the page afresh (a URL that differs only in its #fragment would not reload it)."""
        self.driver.get("about:blank")
        self.driver.get(url or self.url)
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.loaded") == "true", "the chain")
        return self

    def connect(self, address: str) -> None:
        self.driver.find_element(By.ID, "connect").click()
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, "#wallets button"), "the wallet list")
        self.driver.find_element(By.CSS_SELECTOR, "#wallets button").click()
        self.wait_account(address)

    def wait_account(self, address: str) -> None:
        self.wait(lambda: self.attribute("#account", "data-address") == address, f"account {address}")

    def attribute(self, selector: str, name: str) -> str | None:
        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].get_attribute(name) if found else None

    def tab(self, name: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, f'#tabs button[data-tab="{name}"]').click()

    def form(self, action: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, f'form[data-action="{action}"]')

    def submit(self, action: str, **fields: str) -> tuple[str, str]:
        """Fill the action's form, press its button and wait for the outcome: (state, message)."""
        form = self.form(action)
        for name, value in fields.items():
            field = form.find_element(By.CSS_SELECTOR, f'[name="{name}"]')
            if field.tag_name == "textarea":  # typing a whole JSON file key by key is slow
                self.driver.execute_script("arguments[0].value = arguments[1]", field, value)
            else:
                field.clear()
                field.send_keys(value)
        result = form.find_element(By.CSS_SELECTOR, ".result")
        self.driver.execute_script("arguments[0].dataset.state = ''", result)
        form.find_element(By.CSS_SELECTOR, "button:not([type=button])").click()
        state = self.wait(lambda: (s := result.get_attribute("data-state")) in DONE and s, f"the end of {action}")
        return state, result.text

    def click_action(self, action: str, **params: str) -> tuple[str, str]:
        """Click the table button for `action` with `params` and wait for its transaction's outcome."""

        def click() -> bool:
            # the page re-renders its tables on every poll: a button found a moment ago may be gone,
            # or be replaced between the scroll into view and the click (nothing was clicked: retry)
            try:
                for candidate in self.driver.find_elements(By.CSS_SELECTOR, f'button[data-action="{action}"]'):
                    if candidate.is_displayed() and all(
                        f'"{k}":"{v}"' in (candidate.get_attribute("data-params") or "") for k, v in params.items()
                    ):
                        candidate.click()
                        return True
            except (StaleElementReferenceException, ElementClickInterceptedException, ElementNotInteractableException):
                pass
            return False

        before = len(self.driver.find_elements(By.CSS_SELECTOR, "#txlog li"))
        self.wait(click, f"a {action} button for {params}")
        self.wait(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "#txlog li")) > before, "a new transaction")
        entry = self.driver.find_element(By.CSS_SELECTOR, "#txlog li:first-child")
        state = self.wait(lambda: (s := entry.get_attribute("data-state")) in DONE and s, f"the end of {action}")
        return state, entry.find_element(By.CSS_SELECTOR, ".detail").text

    def rows(self, table: str) -> list[list[str]]:
        # one script call: the page re-renders every poll
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(tr => [...tr.cells].map(td => td.textContent))",
            f"#{table} tbody tr",
        )

    def screenshot(self, name: str, width: int = 1280) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(max(height + 40, 600), 4000))
        # clicks scroll wide tables sideways: show each from its first column
        self.driver.execute_script(
            "window.scrollTo(0, 0); document.querySelectorAll('.scroll').forEach(e => e.scrollLeft = 0)"
        )
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
