"""Console benchmark: the fleet page's first meaningful paint with 1,000 meters, in a real
headless Chromium (Debian's, driven by Playwright), read from the browser's own Performance API.

Run (what `make bench-console` does):
    source deploy/local/env.sh && .venv/bin/python bench/bench_console.py

msm-api serves the built console (web/dist) over a database of 1,000 registered meters (half of
them online). A signed-in user reloads the fleet page N times (--runs, default 7); each load
resumes the session quietly (refresh token), asks who the user is, then lists the first page of
devices and walks all of them for the counts. Printed, median of the runs:
  - first contentful paint (FCP) and largest contentful paint (LCP);
  - first meaningful paint: the console's `msm:fleet-rows` mark, set after the frame that
    first shows device rows is painted;
  - counts shown: when the online/offline counts over all 1,000 meters are on screen;
against the baseline measured in the same run: the FCP of a static HTML page from the same
server (the API's own /api/docs, which draws itself from /api/openapi.json).
Target: first meaningful paint <= 1 s (printed, not asserted).
Also printed: the JavaScript the console ships, raw and gzipped (budget 300 kB gzipped).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from msm_common.adapters import mongo
from msm_metersim import registered_device

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.browser import chromium, headless_chromium  # noqa: E402  (the e2e test's way)

DIST = ROOT / "web" / "dist"
DB_NAME = "msm_bench_console"
PORT = 18150  # the console's range (18100-18199)
ADMIN = ("bench-console@example.com", "bench-console-password-1")
METERS = 1000
FCP_SEEN = "() => performance.getEntriesByName('first-contentful-paint').length > 0"
PAINTS_JS = """() => new Promise((resolve) => {
  const out = {};
  const done = () => resolve(out);
  out.fcp = performance.getEntriesByName('first-contentful-paint')[0].startTime;
  const rows = performance.getEntriesByName('msm:fleet-rows')[0];
  out.rows = rows ? rows.startTime : null;
  new PerformanceObserver((list) => {
    const all = list.getEntries();
    out.lcp = all[all.length - 1].startTime;
  }).observe({ type: 'largest-contentful-paint', buffered: true });
  setTimeout(done, 300);
})"""


def seed(mongo_uri: str) -> None:
    client = mongo.connect(mongo_uri)
    client.drop_database(DB_NAME)
    db = client[DB_NAME]
    mongo.ensure_indexes(db)
    docs = []
    for n in range(1, METERS + 1):
        doc = registered_device(f"SIM-{n:06d}")
        doc["connectivity"] = {"connected": n % 2 == 0}
        doc["firmware_version"] = "2.3.1-sim"
        docs.append(doc)
    db["devices"].insert_many(docs)
    client.close()


def start_api(secrets: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MSM_ENV": "test",
        "MSM_MONGO_DB": DB_NAME,
        "MSM_API_PORT": str(PORT),
        "MSM_API_WORKERS": "2",
        "MSM_METRICS_PORT": "0",
        "MSM_API_ADMIN_EMAIL": ADMIN[0],
        "MSM_API_ADMIN_PASSWORD": ADMIN[1],
        "MSM_SECRETS_DIR": str(secrets),
        "MSM_API_CONSOLE_DIR": str(DIST),
        "MSM_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/msm-api")], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("msm-api did not start")


def js_size() -> tuple[int, int]:
    files = list((DIST / "assets").glob("*.js"))
    raw = sum(f.stat().st_size for f in files)
    gz = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    return raw, gz


def measure(page: Any, base: str, runs: int) -> dict[str, list[float]]:
    page.goto(base + "/")
    page.get_by_label("Email or user name").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.locator("[data-testid=count-total]", has_text="1000").wait_for(timeout=60_000)
    found: dict[str, list[float]] = {"fcp": [], "lcp": [], "rows": [], "counts": [], "base": []}
    for _ in range(runs):
        page.goto(base + "/api/docs")
        page.wait_for_function(FCP_SEEN, timeout=10_000)
        found["base"].append(page.evaluate(PAINTS_JS)["fcp"])
        page.goto(base + "/")
        page.locator("table.devices tbody tr a").first.wait_for(timeout=30_000)
        page.locator("[data-testid=count-total]", has_text="1000").wait_for(timeout=30_000)
        counts_at = page.evaluate("performance.now()")
        page.wait_for_function(FCP_SEEN, timeout=10_000)
        paints = page.evaluate(PAINTS_JS)
        for key in ("fcp", "lcp", "rows"):
            if paints.get(key) is not None:
                found[key].append(paints[key])
        found["counts"].append(counts_at)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = chromium()
    if exe is None:
        print("bench_console: Debian's chromium is not installed (make chromium)")
        return 1
    if not (DIST / "index.html").is_file():
        print("bench_console: web/dist is missing (make console)")
        return 1
    seed(os.environ.get("MSM_MONGO_URI", "mongodb://127.0.0.1:27017/msm"))
    with tempfile.TemporaryDirectory(prefix="msm-bench-console-") as tmp:
        api = start_api(Path(tmp) / "secrets")
        try:
            with headless_chromium(exe, str(Path(tmp) / "profile")) as context:
                found = measure(context.new_page(), f"http://127.0.0.1:{PORT}", args.runs)
        finally:
            api.terminate()
            api.wait(30)
    med = {k: statistics.median(v) if v else float("nan") for k, v in found.items()}
    base = med["base"]
    print(f"fleet page, {METERS} meters, median of {args.runs} loads (headless Chromium):")
    print(f"  baseline: /api/docs (static HTML, same server), FCP {base:5.0f} ms")
    for key, label in (
        ("fcp", "first contentful paint"),
        ("rows", "first meaningful paint (device rows)"),
        ("lcp", "largest contentful paint"),
        ("counts", "counts over all meters shown"),
    ):
        spread = f"[{min(found[key]):.0f}-{max(found[key]):.0f}]" if found[key] else ""
        ratio = med[key] / base if base else float("nan")
        print(f"  {label:<38} {med[key]:7.0f} ms  {ratio:5.1f}x baseline  {spread}")
    target = "within" if med["rows"] <= 1000 else "OVER"
    print(f"  target: first meaningful paint <= 1000 ms: {target}")
    raw, gz = js_size()
    print(f"console JS: {raw / 1024:.1f} kB raw, {gz / 1024:.1f} kB gzipped (budget 300 kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
