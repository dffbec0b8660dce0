"""cdp.py - drive headless Chromium through the DevTools protocol over
--remote-debugging-pipe (fd 3 reads commands, fd 4 writes answers, each
message a JSON object ended by a NUL byte): real key events into a page,
with no chromium-driver and no Python package beyond the standard library.

    with Page(browser, url) as p:
        p.type_into("#filter", "alice@example.net")
        p.click("#next")
        ids = p.eval("[...document.querySelectorAll('tr')].map(t => t.id)")
"""
import json
import os
import shutil
import subprocess
import tempfile
import time


class Page:
    def __init__(self, browser, url, timeout=120):
        self.timeout = timeout
        self.prof = tempfile.mkdtemp(prefix="cdp-")
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        # the shell puts the pipes on the fds Chromium expects
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&%d 4>&%d' % (cmd_r, res_w), browser,
             "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={self.prof}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(cmd_r, res_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self.buf, self.next_id, self.events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Page.navigate", session=True, url=url)
        self.wait_event("Page.loadEventFired")

    def _read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.res_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
        raise TimeoutError(method)

    def wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(self._read())
        raise TimeoutError(method)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", session=True, expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def type_into(self, selector, text):
        """Focus the element and type text, one key event a character."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        for ch in text:
            self.call("Input.dispatchKeyEvent", session=True, type="keyDown", text=ch,
                      key=ch, unmodifiedText=ch)
            self.call("Input.dispatchKeyEvent", session=True, type="keyUp", key=ch)

    def click(self, selector):
        """A mouse click (press and release) at the middle of the element."""
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def console(self):
        """Console messages and uncaught exceptions seen so far."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", "")) for a in e["params"]["args"]))
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append("Uncaught " + json.dumps(e["params"]["exceptionDetails"])[:300])
        return out

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.res_r)
        shutil.rmtree(self.prof, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
