"""Browser tests for the console: Debian's Chromium driven by Playwright, and axe-core for accessibility checks.

Chromium is the system's (/usr/bin/chromium, `apt-get install chromium`, as .ci/run does), never Playwright's own
download (`playwright install` is not needed). Missing Chromium or Playwright, a browser test skips on a developer's
machine and fails in CI (CI is set there, and .ci/run installs both), so that the browser checks never go quietly
unrun.

Use the fixtures by importing them into a test module, as the other test folders share theirs:

    from tests.console.browser import axe_violations, browser, context_factory  # noqa: F401  (fixtures)

`browser` launches Chromium once per test session however many modules import it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
# axe-core, vendored (tests/console/vendor/README.md): no network, no CDN.
AXE_JS = pathlib.Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
INSTALL = "apt-get install chromium (Debian's) and pip install -e '.[test]' (Playwright; no `playwright install`)"

_SHARED = pytest.StashKey["Browser"]()


def missing(reason: str):
    """Skip, or fail in CI, where a missing tool is an install step that broke."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so the install failed")
    pytest.skip(f"{reason}; install with: {INSTALL}")


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        missing("chromium is not installed (not on PATH)")
    return found


def _launch(config: pytest.Config) -> Browser:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (the test extra brings it)")
    executable = chromium_path()
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except BaseException:
        playwright.stop()
        raise

    def close():
        try:
            launched.close()
        finally:
            playwright.stop()

    # At the end of the session: a session-scoped fixture imported into several test modules is one fixture per
    # module to pytest, so the browser is kept on the config and shared, and closed once.
    config.add_cleanup(close)
    return launched


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> Browser:
    """A headless Chromium (Playwright's Browser), one for the whole test session."""
    stash = request.config.stash
    if _SHARED not in stash:
        stash[_SHARED] = _launch(request.config)
    return stash[_SHARED]


@pytest.fixture
def context_factory(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """new_context(*, viewport=None, locale="nb-NO", **options) -> BrowserContext: a fresh context (own cookies and
    storage), 1280x800 unless a viewport is given; options go to Browser.new_context. All closed at teardown."""
    contexts: list[BrowserContext] = []

    def new_context(*, viewport: dict[str, int] | None = None, locale: str = "nb-NO", **options: Any) -> BrowserContext:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, locale=locale, **options)
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()


def axe_violations(page: Page, tags: Iterable[str] = WCAG_TAGS) -> list[dict]:
    """Run axe-core on the page as it is now, with the rules of the given tags; its violations as
    [{"id", "impact", "help", "help_url", "nodes": [target, ...]}] (a target is axe's list of CSS selectors).

    axe goes in with page.evaluate (the DevTools protocol), not add_script_tag: the console's Content-Security-Policy
    allows scripts from 'self' only, and a script evaluated through the protocol is not subject to it (an inline
    <script> would be blocked). Evaluated again after each navigation."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(
        """async (tags) => {
            const results = await axe.run(document,
                                          {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, help_url: v.helpUrl,
                nodes: v.nodes.map(n => n.target),
            }));
        }""",
        list(tags),
    )


def format_violations(violations: list[dict]) -> str:
    """The violations, one a line with their elements under them, for an assertion message."""
    if not violations:
        return "no accessibility violations"
    lines = [f"{len(violations)} accessibility violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['help_url']}>")
        lines.extend(f"    {' >> '.join(map(str, target))}" for target in v["nodes"])
    return "\n".join(lines)


def no_violations(page: Page, what: str) -> None:
    """Assert that axe finds nothing on the page, naming the page and every violation if it does."""
    found = axe_violations(page)
    assert not found, f"{what}:\n{format_violations(found)}"
