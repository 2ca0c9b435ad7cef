# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""README screenshots from a running demo (scripts/demo), with headless Chromium driven over
the DevTools protocol (websocket-client). Logs in through /web/session/authenticate and hands
the session cookie to the browser. Run through scripts/screenshots."""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def authenticate(odoo, db, login, password):
    """(session id, ids of the companies the user may work in)."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"db": db, "login": login, "password": password},
        }
    ).encode()
    req = urllib.request.Request(
        f"{odoo}/web/session/authenticate",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
        if answer.get("error") or not (answer.get("result") or {}).get("uid"):
            sys.exit(f"cannot log in as {login}: {answer.get('error')}")
        cookie = resp.headers.get("Set-Cookie", "")
    companies = answer["result"].get("user_companies", {}).get("allowed_companies", {})
    for part in cookie.split(";"):
        if part.strip().startswith("session_id="):
            return part.strip().split("=", 1)[1], sorted(int(c) for c in companies)
    sys.exit("no session_id cookie in Odoo's answer")


class Browser:
    def __init__(self, chromium, width, height):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="casemgr-shots-")
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                f"--remote-debugging-port={self.port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list") as r:
                    pages = [p for p in json.loads(r.read()) if p.get("type") == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                sys.exit("Chromium did not open its DevTools port")
            time.sleep(0.2)
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self._id = 0
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def send(self, method, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        res = self.send("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        return (res.get("result") or {}).get("value")

    def wait(self, selector, timeout=30, text=None):
        check = (
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".some(e => e.offsetParent !== null && "
            f"({json.dumps(text)} === null || e.textContent.includes({json.dumps(text)})))"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(check):
                return
            time.sleep(0.25)
        raise RuntimeError(f"timed out waiting for {selector} {text or ''}")

    def click(self, selector, text=None):
        self.wait(selector, text=text)
        self.js(
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".find(e => e.offsetParent !== null && ({json.dumps(text)} === null || "
            f"e.textContent.includes({json.dumps(text)}))).click()"
        )

    def goto(self, url):
        self.send("Page.navigate", url=url)

    def shot(self, path):
        time.sleep(1.0)  # let animations and lazy widgets settle
        # a restarted server tells open pages to reload: not what the picture is about
        self.js(
            "document.querySelectorAll('.o_notification').forEach(n => "
            "n.textContent.includes('out of date') && n.remove())"
        )
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
        print(f"wrote {path}")

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--odoo", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="casemgr_xero_demo")
    parser.add_argument("--out", default="docs/img")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--connection-id", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    session, company_ids = authenticate(args.odoo, args.db, "admin", "admin")
    browser = Browser(args.chromium, args.width, args.height)
    host = args.odoo.split("//", 1)[1].split(":")[0]
    try:
        browser.send("Network.enable")
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=session,
            domain=host,
            path="/",
            httpOnly=True,
        )
        out = lambda name: os.path.join(args.out, name)  # noqa: E731

        # through the menus, so that the navbar shows Invoicing's sections
        browser.goto(f"{args.odoo}/odoo")
        browser.click(".o_navbar_apps_menu .dropdown-toggle")
        browser.click('.o_app[data-menu-xmlid="account.menu_finance"]')
        browser.click('.o_menu_sections [data-menu-xmlid="account.menu_finance_receivables"]')
        browser.click(
            '.o-dropdown--menu [data-menu-xmlid="account.menu_action_move_out_invoice_type"]'
        )
        browser.wait(".o_list_renderer .badge", text="Sent")
        browser.shot(out("invoice-list.png"))

        browser.click('.o_menu_sections [data-menu-xmlid="casemgr_xero.menu_xero_root"]')
        browser.click('.o-dropdown--menu [data-menu-xmlid="casemgr_xero.menu_xero_export"]')
        browser.wait(".modal .o_form_view [name=move_count]")
        browser.shot(out("export-wizard.png"))

        # every company the demo has (the company switcher's cookie): a health line each
        browser.send(
            "Network.setCookie",
            name="cids",
            value="-".join(map(str, company_ids)),
            domain=host,
            path="/",
        )
        browser.goto(f"{args.odoo}/odoo/action-casemgr_xero.xero_failure_dashboard_action")
        browser.wait(".o_kanban_record, .o_data_row")
        browser.wait(".o_xero_health_line")
        browser.shot(out("dashboard.png"))

        browser.goto(
            f"{args.odoo}/odoo/action-casemgr_xero.xero_connection_action/{args.connection_id}"
        )
        browser.wait(".o_form_view button[name=action_xero_test_connection]")
        browser.click(".o_form_view button[name=action_xero_test_connection]")
        browser.wait(".o_notification", text="Connected to Xero")
        browser.shot(out("connection-form.png"))
    finally:
        browser.close()


if __name__ == "__main__":
    main()
