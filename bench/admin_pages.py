#!/usr/bin/env python3
"""Times the admin API's account listing (bench/admin_pages.sh).

Walks the whole listing 200 accounts a page, following `next`, then reads
pages of 50: the first, and after cursors taken all along the walk (deep
pages cost what the first does, or the keyset is not one), and a search.
Each request is timed on one kept-alive connection; prints the median, the
95th percentile and the slowest, in milliseconds, one line per kind.
"""
import base64
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    base, client_id, secret = sys.argv[1:4]
    host = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = {"value": None, "at": 0.0}

    def bearer():
        # Admin tokens live five minutes: a fresh one every four.
        if time.monotonic() - token["at"] > 240:
            conn.request("POST", "/token", "grant_type=client_credentials", {
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            })
            answer = json.loads(conn.getresponse().read())
            token["value"], token["at"] = answer["access_token"], time.monotonic()
        return token["value"]

    def get(path):
        headers = {"Authorization": f"Bearer {bearer()}"}
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        took = (time.perf_counter() - started) * 1000
        if response.status != 200:
            sys.exit(f"GET {path}: {response.status} {body[:200]!r}")
        return json.loads(body), took

    def line(kind, times):
        times = sorted(times)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{kind}|{len(times)}|{statistics.median(times):.2f}|{p95:.2f}|{times[-1]:.2f}")

    walk, cursors, seen = [], [], 0
    path = "/admin/v1/users?limit=200"
    while True:
        page, took = get(path)
        walk.append(took)
        seen += len(page["items"])
        if not page["next"]:
            break
        cursors.append(page["next"])
        path = "/admin/v1/users?limit=200&after=" + urllib.parse.quote(page["next"], safe="")
    print(f"accounts|{seen}")
    line("walk, 200 a page", walk)
    line("first page of 50", [get("/admin/v1/users?limit=50")[1] for _ in range(50)])
    step = max(1, len(cursors) // 100)
    line("a page of 50 after a cursor anywhere", [
        get("/admin/v1/users?limit=50&after=" + urllib.parse.quote(c, safe=""))[1]
        for c in cursors[::step]
    ])
    line("a search (username prefix)", [
        get(f"/admin/v1/users?limit=50&search=user{i}99")[1] for i in range(1, 51)
    ])


if __name__ == "__main__":
    main()
