#!/usr/bin/env python3
"""report.html in a real browser: `sim` writes it for minority_partition_writes (a failover, a client, lost
writes) and for zone_majority_lost (no failover, no client); headless Chromium (Debian's `chromium`,
`make deps-real` installs it) loads each page from disk and must show the verdict, the timeline and both
plots, and log no error about the page. Exit 77 (skipped) without chromium."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIM = os.environ.get("RCSIM_SIM_BINARY", str(REPO / "build" / "sim"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import check, summary  # noqa: E402

def browser():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return name
    return None


def rendered(chrome, page, profile):
    """The DOM after Chromium loaded and laid out the page, and what it logged about the page."""
    r = subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                        "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    # Chromium logs its own sandbox/dbus complaints on a bare machine; only console messages and load
    # failures are about the page.
    page_errors = [line for line in r.stderr.splitlines()
                   if "CONSOLE" in line or "Failed to load" in line or "net::ERR" in line]
    return r.returncode, r.stdout, page_errors


def main():
    chrome = browser()
    if chrome is None:
        print("skipped: no chromium (make deps-real installs it)")
        return 77
    with tempfile.TemporaryDirectory(prefix="rcsim-report-") as tmp:
        for scenario, has_clients in (("minority_partition_writes", True), ("zone_majority_lost", False),
                                      ("zone_outage_imported", False)):
            out = Path(tmp) / scenario
            r = subprocess.run([SIM, "--scenario", str(REPO / "scenarios" / f"{scenario}.json"), "--out", str(out),
                                "--quiet"], capture_output=True, text=True)
            check(f"{scenario}: sim exit {r.returncode}: {r.stderr}", r.returncode == 0)
            page = out / "report.html"
            text = page.read_text()
            check(f"{scenario}: no script and nothing fetched", "<script" not in text and "http://" not in
                  text.replace("http://www.w3.org", ""))
            code, dom, errors = rendered(chrome, page, Path(tmp) / "profile")
            check(f"{scenario}: chromium exit {code}", code == 0)
            check(f"{scenario}: errors about the page: {errors}", not errors)
            check(f"{scenario}: verdict PASS shown", re.search(r'<p id="verdict" class="pass">PASS</p>', dom) is not None)
            check(f"{scenario}: timeline drawn", re.search(r'<div id="timeline">\s*<svg', dom) is not None)
            check(f"{scenario}: shard plot with served intervals", '<svg id="shards-plot"' in dom and 'class="served"' in dom)
            if has_clients:
                check(f"{scenario}: the client library named", "Client library: <b>generic</b>" in dom)
                check(f"{scenario}: client plot", '<svg id="clients-plot"' in dom and 'class="acked"' in dom)
                check(f"{scenario}: the shards went unserved during the failover", 'class="unserved"' in dom)
                check(f"{scenario}: lost writes reported", re.search(r"<b>\d+ acknowledged and lost</b>", dom) is not None)
                check(f"{scenario}: failover phases", "<td>m1</td><td>r1</td><td>auto</td>" in dom)
            elif scenario == "zone_outage_imported":
                check(f"{scenario}: the imported ids, addresses and zones", re.search(
                    r"<tr><td>m1</td><td><code>14ec1c74c4e461188086c95082929b5e3770e798</code></td>"
                    r"<td>10\.0\.1\.11:6379@16379</td><td>master, slots 0-2730</td><td>a</td><td>10\.0\.1\.11</td></tr>",
                    dom) is not None)
                check(f"{scenario}: both of zone a's masters failed over", dom.count("<td>auto</td>") == 2)
            else:
                check(f"{scenario}: the zones and hosts table", '<table id="cluster">' in dom)
                check(f"{scenario}: the placement risk shown", "Risk: zone a holds" in dom)
                check(f"{scenario}: no client plot", "No clients in this scenario." in dom)
                check(f"{scenario}: no failover", "<p>No failover.</p>" in dom)
                check(f"{scenario}: two shards unserved while zone a is down", dom.count('class="unserved"') >= 2)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
