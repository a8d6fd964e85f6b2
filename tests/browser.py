"""A real headless Chromium, driven over the DevTools protocol through a pipe.

Why this and not playwright or selenium: Debian's `chromium` is the only browser the CI has, and the DevTools
protocol is built into it, so the client always matches the browser's version; `--remote-debugging-pipe`
needs no network port and no extra package (playwright would bring a Node driver tied to its own Chromium
build, selenium a separate chromedriver). The client is small: commands as JSON, NUL-terminated, on fds 3/4.

What a test gets: open a page at a given viewport (phone or desktop, with real mobile emulation so the
page's <meta viewport> matters), evaluate JavaScript to read what a person sees, take a full-page screenshot,
print to PDF (A4). Screenshots and PDFs go to SCREENSHOTS (the README names it), which git ignores.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("AMSN_BATCH_CAPTURES", ROOT / "screenshots"))
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--font-render-hinting=none",
]
TIMEOUT = 120  # seconds without any message from the browser before giving up (a hang, not a timing check)
PHONE, DESKTOP = 375, 1280


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="amsn-chromium-")
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()

        def child_fds() -> None:  # the browser reads commands on fd 3 and writes answers on fd 4
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []

    # --- protocol ---------------------------------------------------------------------------------------
    def _read_message(self) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], TIMEOUT)
            if not ready:
                raise TimeoutError("Chromium ne répond plus")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise EOFError("Chromium s'est arrêté")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._w, data):]
        while True:
            m = self._read_message()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._events.append(m)

    def wait_event(self, name: str, session: str) -> dict:
        while True:
            for i, e in enumerate(self._events):
                if e.get("method") == name and e.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._read_message())

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Runtime.enable", session=session)
        return Page(self, target, session)

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._r)
            os.close(self._w)
            shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.b, self.target, self.session = browser, target, session
        self.width = DESKTOP

    def cmd(self, method: str, params: dict | None = None) -> dict:
        return self.b.send(method, params, self.session)

    def open(self, path: Path, width: int = DESKTOP, height: int = 900) -> Page:
        """Load a local file at this viewport width; a phone width also emulates a mobile device."""
        self.width = width
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        self.cmd("Page.navigate", {"url": path.resolve().as_uri()})
        self.b.wait_event("Page.loadEventFired", self.session)
        return self

    def js(self, expression: str):
        r = self.cmd("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS: {r['exceptionDetails']}")
        return r["result"].get("value")

    def text(self, selector: str) -> str:
        return self.js(f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText")

    def overflow(self) -> dict:
        """Whatever sticks out sideways: the page wider than the viewport, visible elements beyond its edges
        (what an ancestor clips does not count), and boxes that scroll sideways inside the page."""
        return self.js(OVERFLOW_JS)

    def contrast_failures(self) -> list[str]:
        """Text whose colour against its background is below WCAG AA (4.5:1, or 3:1 for large text)."""
        return self.js(CONTRAST_JS)

    def screenshot(self, name: str) -> Path:
        height = min(int(self.js("document.documentElement.scrollHeight")), 16000)
        shot = self.cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        out = SCREENSHOTS / f"{name}.png"
        out.write_bytes(base64.b64decode(shot["data"]))
        return out

    def pdf(self, name: str) -> Path:
        """Print as a person would (A4, CSS page size honoured)."""
        self.cmd("Emulation.clearDeviceMetricsOverride")
        data = self.cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True,
                                             "printBackground": True})["data"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        out = SCREENSHOTS / f"{name}.pdf"
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        self.b.send("Target.closeTarget", {"targetId": self.target})


OVERFLOW_JS = r"""(() => {
  const vw = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '');
  const outside = [], scrolling = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    let left = r.left, right = r.right;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const st = getComputedStyle(a);
      if (st.overflowX !== 'visible' || st.clip !== 'auto') {
        const ar = a.getBoundingClientRect(); left = Math.max(left, ar.left); right = Math.min(right, ar.right);
      }
    }
    if (right - left <= 1) continue;
    if (right > vw + 1 || left < -1) outside.push(`${name(el)} ${Math.round(left)}..${Math.round(right)}`);
    const st = getComputedStyle(el);
    if ((st.overflowX === 'auto' || st.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) scrolling.push(name(el));
  }
  const clipped = [];  // SVG text cut by the chart's own edges
  for (const t of document.querySelectorAll('svg text')) {
    const box = t.getBBox(), vb = t.ownerSVGElement.viewBox.baseVal;
    if (vb && vb.width && (box.x < -0.5 || box.x + box.width > vb.width + 0.5)) clipped.push(t.textContent);
  }
  return {viewport: vw, scrollWidth: document.documentElement.scrollWidth, outside: outside.slice(0, 20), scrolling, clipped};
})()"""


CONTRAST_JS = r"""(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0.5) return c; } return [255, 255, 255, 1]; };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode; const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el)) continue; seen.add(el);
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none' || el.closest('.sr-only')) continue;
    const svg = el instanceof SVGElement;
    const fg = parse(svg ? st.fill : st.color); if (!fg) continue;
    const bg = bgOf(svg ? el.closest('svg').parentElement : el);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()} « ${node.textContent.trim().slice(0, 40)} » ${ratio.toFixed(2)}:1`);
  }
  return bad;
})()"""


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium absent : `make test` l'installe (paquet Debian chromium, voir scripts/system-deps)")
    b = Browser(exe)
    yield b
    b.close()


@pytest.fixture
def page(browser):
    p = browser.new_page()
    yield p
    p.close()


def pdf_text(path: Path, pages: int = 3) -> str:
    """The text of the first pages of a PDF, spaces normalised (to find what was printed)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    text = " ".join(p.extract_text() or "" for p in reader.pages[:pages])
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def assert_a4_pdf(path: Path) -> int:
    """The PDF has A4 pages (595 × 842 pt); returns the number of pages."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    assert len(reader.pages) >= 1
    for p in reader.pages:
        assert abs(float(p.mediabox.width) - 595.3) < 3 and abs(float(p.mediabox.height) - 841.9) < 3, p.mediabox
    return len(reader.pages)


def assert_readable(page: Page) -> None:
    """Nothing sticks out sideways, nothing scrolls sideways, every text meets the contrast minimum."""
    ov = page.overflow()
    assert ov["scrollWidth"] <= ov["viewport"], ov
    assert ov["outside"] == [], ov
    assert ov["scrolling"] == [], ov
    assert ov["clipped"] == [], ov
    assert page.contrast_failures() == []
