"""The book builds once, every notebook executed at the ``smoke`` budget, with Sphinx warnings as
errors; then headless Chromium opens the built pages and checks that they and their images load and
that every chapter shows at least one figure.

The build takes minutes (it runs every chapter, sharing the smoke-budget model cache with nbval);
it happens once per run, in a module-scoped fixture. The browser tests need Chromium and its driver
(Debian: ``apt-get install chromium chromium-driver``) and the ``selenium`` package (the ``test``
extra). Without them they are skipped, unless ``METALEARN_REQUIRE_BROWSER=1`` (CI sets it), which
turns a missing browser into a failure.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAPTERS = sorted(str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "chapters").glob("*/*.md"))
PAGES = ["index", *(c["file"] for part in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
                    for c in part["chapters"])]
REQUIRE_BROWSER = os.environ.get("METALEARN_REQUIRE_BROWSER") == "1"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1024",
    # No network here: resolve nothing but the local server, so CDN requests fail at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@dataclass
class Build:
    returncode: int
    log: str
    html: Path
    seconds: float


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Build:
    """``jupyter-book build -W -n --keep-going`` of the whole book into a temporary folder, every
    notebook executed (``execute_notebooks: force``) at the smoke budget."""
    jb = shutil.which("jupyter-book", path=str(BIN))
    if jb is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    out = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    config["bibtex_bibfiles"] = [str(ROOT / b) for b in config["bibtex_bibfiles"]]
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "METALEARN_BUDGET": "smoke"}
    start = time.perf_counter()
    result = subprocess.run(
        [jb, "build", str(ROOT), "--path-output", str(out), "--config", str(out / "_config.yml"),
         "-W", "-n", "--keep-going", "--all"],
        capture_output=True, text=True, timeout=3600, env=env,
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    (out / "build.log").write_text(log)
    print(f"\nbook built in {seconds:.0f} s (smoke budget, notebooks executed); log: {out / 'build.log'}")
    return Build(result.returncode, log, out / "_build" / "html", seconds)


def test_book_builds_without_warnings(built_book):
    reports = sorted((built_book.html / "reports").rglob("*.err.log")) if (built_book.html / "reports").exists() else []
    failed_notebooks = "\n".join(f"--- {r.name}\n{r.read_text()[-3000:]}" for r in reports)
    warnings = "\n".join(line for line in built_book.log.splitlines()
                          if ("WARNING" in line or "ERROR" in line) and "IPKernelApp" not in line)
    assert built_book.returncode == 0, f"{warnings}\n{built_book.log[-3000:]}\n{failed_notebooks}"
    assert (built_book.html / "index.html").exists()
    for chapter in CHAPTERS:
        assert (built_book.html / f"{chapter}.html").exists(), chapter


def test_toc_lists_every_chapter():
    listed = {page for page in PAGES if page.startswith("chapters/")}
    assert listed == set(CHAPTERS)


# --- the built HTML in headless Chromium -------------------------------------------------------


def _browser_or_skip() -> tuple[str, str]:
    """Paths of Chromium and chromedriver; skip (or fail, under METALEARN_REQUIRE_BROWSER=1) if absent."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None:
        missing.append("chromium (Debian package `chromium`)")
    if driver is None:
        missing.append("chromedriver (Debian package `chromium-driver`)")
    if missing:
        reason = "the headless-browser check needs " + ", ".join(missing)
        if REQUIRE_BROWSER:
            pytest.fail(reason + "; METALEARN_REQUIRE_BROWSER=1 forbids skipping it", pytrace=False)
        pytest.skip(reason)
    return chromium, driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(request) -> str:
    """The built HTML served on 127.0.0.1; yields the base URL."""
    _browser_or_skip()  # before the (minutes-long) build: no browser, no point building
    html = request.getfixturevalue("built_book").html
    if not (html / "index.html").exists():
        pytest.fail(f"the build produced no {html / 'index.html'}", pytrace=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@dataclass
class PageReport:
    url: str
    status: int | None = None
    title: str = ""
    images: list[dict] = field(default_factory=list)
    failed_local: list[str] = field(default_factory=list)
    failed_external: list[str] = field(default_factory=list)

    @property
    def figures(self) -> list[dict]:
        return [i for i in self.images if i["inArticle"] and i["complete"] and i["naturalWidth"] > 0]


# Load lazy images now, wait until every <img> has finished (loaded or failed), describe each one.
_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { if (img.loading === "lazy") img.loading = "eager"; });
Promise.all(images.map(img => img.complete ? null : new Promise(resolve => {
    img.addEventListener("load", resolve); img.addEventListener("error", resolve);
    setTimeout(resolve, 20000);
}))).then(() => done(images.map(img => ({
    src: (img.currentSrc || img.src).slice(0, 120),
    complete: img.complete,
    naturalWidth: img.naturalWidth,
    inArticle: img.closest("article") !== null,  // the page body, not the header's launch-button logos
}))));
"""


@pytest.fixture(scope="module")
def visit(site, browser):
    """``visit(page)``: open ``page`` (a toc entry, or ``index``) once and report what loaded."""
    cache: dict[str, PageReport] = {}

    def _visit(page: str) -> PageReport:
        if page in cache:
            return cache[page]
        url = site + page + ".html"
        browser.get_log("performance")  # drop the events of earlier pages
        browser.get(url)
        # index.html only redirects (meta refresh) to the root page: wait until a titled page is loaded
        deadline = time.monotonic() + 20
        while not browser.execute_script("return document.readyState === 'complete' && document.title") \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        report = PageReport(url=url, title=browser.title)
        report.images = browser.execute_async_script(_IMAGES_JS)
        urls: dict[str, str] = {}

        def failed(what: str, request_url: str) -> None:
            if request_url == site + "favicon.ico":  # asked for by the browser itself; the theme sets none
                return
            (report.failed_local if request_url.startswith(site) else report.failed_external).append(f"{what} {request_url}")

        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            elif method == "Network.responseReceived":
                response = params["response"]
                if params.get("type") == "Document" and response["url"] == url:
                    report.status = response["status"]
                if response["status"] >= 400:
                    failed(str(response["status"]), response["url"])
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                failed(params.get("errorText", "failed"), urls.get(params["requestId"], "?"))
        cache[page] = report
        return report

    return _visit


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_in_chromium(visit, page):
    report = visit(page)
    assert report.status == 200, f"{report.url}: HTTP {report.status}"
    assert report.title.strip(), f"{report.url} has no title"
    broken = [i["src"] for i in report.images if not (i["complete"] and i["naturalWidth"] > 0)]
    assert not broken, f"{report.url}: images that did not load: {broken}"
    assert not report.failed_local, f"{report.url}: local requests that failed: {report.failed_local}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_a_figure(visit, chapter):
    report = visit(chapter)
    assert report.figures, f"{report.url} shows no figure (no loaded <img> in its article)"
