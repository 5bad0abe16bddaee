#!/usr/bin/python3
"""A screenshot of a page that draws itself after load (the Aspire dashboard is a Blazor Server
app: its trace view arrives over a websocket once the page has loaded), with Debian's headless
chromium driven over the DevTools protocol (python3-websocket): open the page, wait, capture.

  docs/img/screenshot.py URL OUT.png [WIDTH HEIGHT [WAIT_S]]
"""
import base64, json, subprocess, sys, tempfile, time, urllib.request
import websocket

url, out = sys.argv[1], sys.argv[2]
width, height = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (1600, 900)
wait = float(sys.argv[5]) if len(sys.argv) > 5 else 6
profile = tempfile.mkdtemp(prefix="tcpq-chromium-")
port = 9333
chrome = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--window-size={width},{height}", f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "about:blank"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            page = next(t for t in tabs if t["type"] == "page")
            break
        except Exception:
            time.sleep(0.1)
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
    ids = iter(range(1, 1000))

    def call(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            m = json.loads(ws.recv())
            if m.get("id") == i:
                return m.get("result", {})

    call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    call("Page.enable")
    call("Page.navigate", url=url)
    time.sleep(wait)
    png = call("Page.captureScreenshot", format="png")["data"]
    with open(out, "wb") as f:
        f.write(base64.b64decode(png))
finally:
    chrome.terminate()
    chrome.wait(10)
