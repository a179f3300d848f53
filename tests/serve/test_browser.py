"""End to end in Debian's headless Chromium (never `playwright install`): the live explorer and the offline
HTML view. Screenshots land in the test's tmp dir."""

import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.serve.conftest import HEADS, LAYERS, SENTENCE

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (make setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(loaded_runs):
    """uvicorn in a thread on a free loopback port, serving both tiny runs."""
    import uvicorn

    from attnlab.serve.app import LOOPBACK, create_app

    runs, names = loaded_runs
    port = _free_port()
    app = create_app(runs, names, allowed_hosts=list(LOOPBACK))
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def page(browser):
    """A fresh page that records every request's host and every script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.hosts, pg.errors = [], []
    pg.on(
        "request",
        lambda req: pg.hosts.append(urlparse(req.url).scheme + "://" + (urlparse(req.url).hostname or "")),
    )
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    # an HTTP error answer (e.g. the 422 we provoke) is logged as "Failed to load resource": not a script error
    pg.on(
        "console",
        lambda msg: (
            msg.type == "error" and "Failed to load resource" not in msg.text and pg.errors.append(msg.text)
        ),
    )
    yield pg
    context.close()


def _submit(page, run_label: str, text: str = SENTENCE, beam: int = 1, n_best: int = 1):
    page.select_option("#run", label=run_label)
    page.fill("#text", text)
    page.fill("#beam", str(beam))
    page.fill("#n-best", str(n_best))
    page.click("#go")
    page.wait_for_selector("#output", timeout=30_000)
    page.wait_for_function("!document.getElementById('go').disabled")


def test_explorer_transformer_head_and_model_views(page, server, tmp_path):
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']")
    _submit(page, "tiny-transformer (translation)", beam=3, n_best=3)
    assert page.inner_text("#output").strip()
    assert page.locator("#nbest li").count() == 3
    assert page.locator("#map-tabs button").all_inner_texts() == [
        "encoder self-attention",
        "decoder self-attention (masked)",
        "decoder → source (cross-attention)",
    ]
    # cross-attention opens first, in the head view, last layer, every head
    view = page.locator("#view")
    assert view.get_attribute("data-view") == "head"
    assert view.get_attribute("data-layer") == str(LAYERS - 1)
    assert view.get_attribute("data-heads") == ",".join(map(str, range(HEADS)))
    assert page.locator("svg.head-view line.attn-line").count() > 0
    page.screenshot(path=str(tmp_path / "explorer-head-view.png"), full_page=True)

    page.select_option("#layer-select", "0")  # switch layer
    assert view.get_attribute("data-layer") == "0"
    page.uncheck("#head-toggles input[data-head='1']")  # switch heads off ...
    assert view.get_attribute("data-heads") == "0"
    assert page.locator("svg.head-view line[data-head='1']").count() == 0
    assert page.locator("svg.head-view line[data-head='0']").count() > 0
    page.click("#heads-none")
    assert page.locator("svg.head-view line").count() == 0
    page.click("#heads-all")
    assert page.locator("svg.head-view line[data-head='1']").count() > 0

    page.hover("svg.head-view text.q-tok[data-q='0']")  # hovering a query token shows only its lines
    hidden = page.eval_on_selector_all(
        "svg.head-view line", "ls => ls.filter(l => l.style.display === 'none').length"
    )
    visible = page.eval_on_selector_all(
        "svg.head-view line", "ls => ls.filter(l => l.style.display !== 'none').map(l => l.dataset.q)"
    )
    assert hidden > 0 and set(visible) == {"0"}

    page.select_option("#view-select", "model")  # the layers × heads grid
    assert page.locator("#model-view canvas.cell").count() == LAYERS * HEADS
    page.screenshot(path=str(tmp_path / "explorer-model-view.png"), full_page=True)
    page.click("#model-view canvas.cell[data-layer='1'][data-head='0']")  # opens that head
    assert (view.get_attribute("data-view"), view.get_attribute("data-layer")) == ("head", "1")
    assert view.get_attribute("data-heads") == "0"

    page.click("#map-tabs button[data-map='encoder']")
    page.select_option("#view-select", "heatmap")
    S = page.locator("svg.heatmap text.tok").count() // 2  # S key labels + S query labels
    assert S > 0 and page.locator("svg.heatmap rect.cell").count() == S * S
    page.click("#nbest li:nth-child(2)")  # another hypothesis: its attention, same n-best list
    page.wait_for_selector("#nbest li.shown:nth-child(2)", timeout=30_000)
    assert page.errors == []
    assert set(page.hosts) == {server.replace(":" + server.rsplit(":", 1)[1], "")}  # only our own server


def test_explorer_rnn_heatmap_and_errors(page, server, tmp_path):
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']")
    _submit(page, "gru-bahdanau (translation)")
    view = page.locator("#view")
    assert view.get_attribute("data-view") == "heatmap"
    tgt = page.locator("svg.heatmap text.tok").count()  # k labels + q labels
    cells = page.locator("svg.heatmap rect.cell").count()
    assert cells > 0 and tgt > 0
    page.screenshot(path=str(tmp_path / "explorer-rnn.png"), full_page=True)
    page.select_option("#view-select", "head")
    assert page.locator("svg.head-view line").count() > 0
    page.fill("#text", "   ")
    page.click("#go")
    page.wait_for_selector("#status.error")
    assert "empty input" in page.inner_text("#status")
    assert page.errors == []


def test_offline_html_renders_with_the_network_blocked(browser, loaded_runs, tmp_path):
    from attnlab.serve.explain import write_attention_html

    runs, _ = loaded_runs
    path = write_attention_html(runs[1], SENTENCE, tmp_path / "view.html", beam=2, n_best=2)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked, errors = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_selector("svg.head-view line.attn-line", state="attached")
    assert page.inner_text("#output").strip()
    assert page.locator("#query").count() == 0
    page.select_option("#view-select", "model")
    assert page.locator("#model-view canvas.cell").count() == LAYERS * HEADS
    page.screenshot(path=str(tmp_path / "offline.png"), full_page=True)
    assert blocked == [] and errors == []
    context.close()
