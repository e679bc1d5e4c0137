"""Fixtures for the web app tests: the app served over a deployment of their own on the session chain
(the root conftest's plugin, tests/session_chain.py, shared with the hub tests), a headless Chromium
with the test wallet injected, and helpers that wait for the page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.app.wallet import TestWallet
from tests.utils.serving import serving_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(isolated_user_dirs: None) -> None:
    """No test reads or writes the developer's keystores, config or devnet."""


@pytest.fixture(scope="session")
def hub_world(devnet, contracts_built, tmp_path_factory):
    """A deployment of the app tests' own on the session chain. The page reads the chain's events
    from the deployment's first block on: on the hub tests' deployment, after their tens of
    thousands of blocks, a page took longer to load than the tests wait (the page never showed the
    chain), so the app tests deploy when they start, as they did with a chain of their own."""
    from tests.session_chain import deploy_world

    return deploy_world(devnet, tmp_path_factory)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    """The trainer's run folders the served app reads (empty unless a test writes into it)."""
    return tmp_path / "runs"


@pytest.fixture
def served(world, tmp_path, runs_dir):
    """The page's address: `hub app`'s server over the deployment, reading `runs_dir`."""
    with serving_app(world.client(), tmp_path, runs_dir=runs_dir) as url:
        yield url


@pytest.fixture
def make_wallet(world):
    """A test wallet for an account, injected into `driver`: make_wallet(driver, account)."""
    from hub.devkeys import LOCAL_CHAIN_ID

    made = []

    def make(driver, account):
        wallet = TestWallet(world.client().w3, account, LOCAL_CHAIN_ID)
        wallet.install(driver)
        made.append(wallet)
        return wallet

    try:
        yield make
    finally:
        for wallet in made:
            wallet.close()
