#!/usr/bin/env python3
"""Writes one benchmark run into docs/benchmarks.md and bench/results.json.

Arguments: BACKEND ROWS then `heading=...`, `note=...` and one
`key|label|connections|req/s|p50|p99` per measurement. The run's table goes
between `<!-- bench:BACKEND -->` markers (`bench:BACKEND:ROWS` for a seeded
database); the side-by-side table of the empty and the largest seeded run
of each backend, from bench/results.json, between `<!-- bench:scale -->`.
"""
import json
import pathlib
import re
import sys

backend, rows, *items = sys.argv[1:]
rows = int(rows)
heading, notes, measured = "", [], []
for item in items:
    if item.startswith("heading="):
        heading = item.removeprefix("heading=")
    elif item.startswith("note="):
        notes.append(item.removeprefix("note="))
    else:
        key, label, conns, rps, p50, p99 = item.split("|")
        measured.append(dict(key=key, label=label, connections=int(conns), rps=float(rps), p50=p50, p99=p99))

results_path = pathlib.Path("bench/results.json")
results = json.loads(results_path.read_text()) if results_path.exists() else {}
results[f"{backend}/{rows}"] = dict(heading=heading, notes=notes, measured=measured)
results_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")

table = ["| request | connections | req/s | p50 | p99 |", "|---|---|---|---|---|"]
table += [f"| {m['label']} | {m['connections']} | {m['rps']:.0f} | {m['p50']} | {m['p99']} |" for m in measured]
section = "\n".join([f"### {heading}", "", *table, "", *notes])

scale = []
for name in ("sqlite", "postgres"):
    seeded = sorted(int(k.split("/")[1]) for k in results if k.startswith(name + "/") and k != name + "/0")
    empty = results.get(f"{name}/0")
    if not seeded or not empty:
        continue
    big = results[f"{name}/{seeded[-1]}"]
    by_key = {m["key"]: m for m in big["measured"]}
    scale += [f"#### {name}: empty database and {seeded[-1]:,} users", "",
              f"Empty: {empty['heading']}. Seeded: {big['heading']}.", "",
              "| request | empty req/s | p99 | seeded req/s | p99 | seeded / empty |",
              "|---|---|---|---|---|---|"]
    for m in empty["measured"]:
        s = by_key.get(m["key"])
        if s:
            scale.append(f"| {m['label']} | {m['rps']:.0f} | {m['p99']} | {s['rps']:.0f} | {s['p99']} | {s['rps'] / m['rps']:.2f} |")
    scale.append("")

path = pathlib.Path("docs/benchmarks.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by `just bench` (bench/run.sh).\n"


def put(text, marker, body):
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return text.rstrip() + "\n\n" + block + "\n"


text = put(text, f"bench:{backend}" + (f":{rows}" if rows else ""), section)
if scale:
    text = put(text, "bench:scale", "\n".join(scale).rstrip())
path.write_text(text)
print(section)
