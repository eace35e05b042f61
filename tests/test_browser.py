"""The report in a real browser: headless Chromium opens report.html from file://, offline.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``,
standard library only), in real time. Checked: no JavaScript error (uncaught
exceptions, syntax errors and unhandled rejections, console.error calls, failed
loads, as the browser reports them), every plotly figure drawn (its div holds a
rendered ``.main-svg``), the PCA slider stepping through every layer, and a
full-page screenshot kept as an artefact (``$WORKBENCH_ARTIFACTS``, default
``test-artifacts/``, git-ignored). Skipped when ``chromium`` is absent, unless
``WORKBENCH_REQUIRE_BROWSER=1`` (then it fails).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import struct
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report import synthetic_run
from tiny import tiny_model, tiny_tokenizer

from workbench.analysis import EmotionVectors
from workbench.monitor import monitor
from workbench.report import make_token_view, write_report

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--remote-debugging-pipe"]
WIDTH = 1300
PLAIN_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
# Waits until the figures given (ids) are drawn, at most 20 s, then says what every figure div holds.
STATUS_JS = """(async (ids) => {
  const done = () => ids.every(id => { const d = document.getElementById(id); return d && d._fullLayout; });
  for (let t = 0; t < 200 && !done(); t++) await new Promise(r => setTimeout(r, 100));
  return Array.from(document.querySelectorAll(".plotly-graph-div")).map(d => ({id: d.id,
    svg: d.querySelectorAll(".main-svg").length,
    frames: d._transitionData && d._transitionData._frames ? d._transitionData._frames.length : 0}));
})(IDS)"""
# Runs every step of each figure's slider as a click on the slider does, and records what is drawn.
SLIDER_JS = """(async () => {
  const out = {};
  for (const gd of document.querySelectorAll(".plotly-graph-div")) {
    if (!(gd.layout && gd.layout.sliders && gd.layout.sliders.length)) continue;
    out[gd.id] = [];
    for (const step of gd.layout.sliders[0].steps) {
      await Plotly[step.method](gd, ...step.args);
      const title = gd.querySelector(".gtitle");
      out[gd.id].push({label: step.label, title: title ? title.getAttribute("data-unformatted") : null,
                       x0: Number(gd._fullData[0].x[0]), points: gd.querySelectorAll(".scatterlayer .point").length});
    }
  }
  return out;
})()"""


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("WORKBENCH_REQUIRE_BROWSER=1 but `chromium` is not on PATH (`make chromium` installs it)")
        pytest.skip("`chromium` is not on PATH: `make chromium` installs Debian's package "
                    "(set WORKBENCH_REQUIRE_BROWSER=1 to make this a failure)")
    return found


class Browser:
    """One headless Chromium page, driven over the DevTools protocol on fds 3 (commands) and 4 (replies)."""

    def __init__(self, width: int = WIDTH, height: int = 900):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()

        def fds():  # in the child: the pipe ends as fds 3 and 4
            a, b = os.dup(cmd_r), os.dup(out_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([_chromium(), *FLAGS, "about:blank"], pass_fds=(3, 4), preexec_fn=fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self.buf, self.n, self.events = b"", 0, []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(method, session=True)
        self.size(width, height)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.out_r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.out_r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buf += chunk
        message, self.buf = self.buf.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: bool = False, timeout: float = 90) -> dict:
        self.n += 1
        message = {"id": self.n, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.n:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def size(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=True)

    def open(self, page: Path, timeout: float = 90) -> None:
        self.send("Page.navigate", {"url": page.as_uri()}, session=True)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read(deadline))

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, session=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Every error the page raised or logged so far."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"{d.get('exception', {}).get('description') or d.get('text')} (line {d.get('lineNumber')})")
            elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def screenshot(self, out: Path) -> Path:
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.size(WIDTH, height)
        self.evaluate("new Promise(r => setTimeout(r, 500))")  # responsive figures settle to the new size
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        out.write_bytes(base64.b64decode(shot["data"]))
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (EOFError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.cmd_w)
        os.close(self.out_r)


class _Figures(HTMLParser):
    """For every element with class plotly-graph-div: does it contain an element with class main-svg?"""

    VOID = {"br", "img", "input", "meta", "link", "hr", "path", "rect", "circle", "line", "stop", "use", "image",
            "polygon", "polyline", "ellipse"}

    def __init__(self):
        super().__init__()
        self.stack, self.found = [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if "main-svg" in classes:
            for _, fig in self.stack:
                if fig is not None:
                    self.found[fig] = True
        if tag in self.VOID:
            return
        fig = attrs.get("id") if "plotly-graph-div" in classes else None
        if fig is not None:
            self.found.setdefault(fig, False)
        self.stack.append((tag, fig))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def status(browser, page_html: str) -> list[dict]:
    """Wait for the figures the page plots (its ``Plotly.newPlot`` ids), then each figure div's state."""
    ids = re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', page_html)
    return browser.evaluate(STATUS_JS.replace("IDS", json.dumps(ids)))


def drawn(dom: str) -> dict:
    parser = _Figures()
    parser.feed(dom)
    return parser.found


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A synthetic run folder's report, with a token view made by a tiny random Llama (d_model 64)."""
    _chromium()
    from workbench.models import adapter_from_hf

    run = synthetic_run(tmp_path_factory.mktemp("browser") / "run")
    tok = tiny_tokenizer()
    model = adapter_from_hf(tiny_model("llama", len(tok)), tok, name="tiny-llama", backend="nnsight")
    make_token_view(model, run, texts=["the old man opened the door.", "she had a warm hand"]).save(run)
    transcript = [{"role": "user", "content": "the old man opened the door."},
                  {"role": "assistant", "content": "she had a warm hand and the light was on"}]
    monitor(model, EmotionVectors.load(run), transcript, 1, neutral_texts=["the house at night", "a long day"],
            chat_template=PLAIN_TEMPLATE).save(run)
    from watch_support import save_lens_and_battery

    save_lens_and_battery(EmotionVectors.load(run), run)
    return write_report(run)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def opened(report, browser):
    browser.open(report)
    return browser, status(browser, report.read_text(encoding="utf-8"))


def test_every_figure_is_drawn_without_javascript_errors(report, opened):
    browser, status = opened
    assert browser.errors() == []
    expected = ["fig-depth-0", "fig-depth-1", "fig-pca-0", "fig-cka-0", "fig-cosine-0", "fig-tokens-0",
                "fig-tokens-1", "fig-monitor-0", "fig-monitor-1", "fig-lens-0", "fig-battery-0", "fig-battery-1"]
    assert [s["id"] for s in status] == expected
    assert all(s["svg"] >= 1 for s in status)
    assert drawn(browser.evaluate("document.documentElement.outerHTML")) == {fid: True for fid in expected}
    assert {s["id"]: s["frames"] for s in status}["fig-pca-0"] == 3  # one frame per layer, in the browser


def test_the_pca_slider_steps_through_every_layer(report, opened):
    from workbench.analysis import EmotionVectors, GeometryReport
    from workbench.data.ratings import load_ratings
    from workbench.figures import pca_figure

    browser, _ = opened
    fig = pca_figure(EmotionVectors.load(report.parent), load_ratings(), GeometryReport.load(report.parent))
    steps = browser.evaluate(SLIDER_JS)
    assert list(steps) == ["fig-pca-0"] and browser.errors() == []
    assert [s["label"] for s in steps["fig-pca-0"]] == [f.name for f in fig.frames] == ["0", "1", "2"]
    for step, frame in zip(steps["fig-pca-0"], fig.frames):
        assert step["title"] == frame.layout.title.text  # the drawn title is that layer's, with its r
        assert step["x0"] == pytest.approx(float(frame.data[0].x[0]), rel=1e-6)
        assert step["points"] == len(frame.data[0].x)  # every emotion drawn


def test_a_full_page_screenshot_is_kept(opened):
    browser, _ = opened
    folder = Path(os.environ.get("WORKBENCH_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    png = browser.screenshot(folder / "report-screenshot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == WIDTH and height > 3000
    assert len(png) > 100_000  # a drawn page, not a blank one


def test_planted_errors_and_an_undrawn_figure_are_caught(report, tmp_path):
    html = report.read_text(encoding="utf-8")
    planted = html.replace("</main>", '<div id="not-drawn" class="plotly-graph-div"></div>'
                           "<script>notAFunction();</script><script>console.error('planted');</script>"
                           "<script>Promise.reject(new Error('planted rejection'));</script>"
                           '<script src="missing.js"></script><script>var = ;</script></main>', 1)
    page = tmp_path / "planted.html"
    page.write_text(planted, encoding="utf-8")
    b = Browser()
    try:
        b.open(page)
        status(b, html)
        found = drawn(b.evaluate("document.documentElement.outerHTML"))
        text = " | ".join(b.errors())
    finally:
        b.close()
    assert "notAFunction is not defined" in text and "console.error: planted" in text
    assert "planted rejection" in text and "SyntaxError" in text and "missing.js" in text
    assert found["not-drawn"] is False and found["fig-pca-0"] is True
