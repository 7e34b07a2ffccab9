#!/usr/bin/python3
"""Reads a server log written with log_min_messages = error (or lower) and
log_error_verbosity = verbose, and checks the errors that compute raised.

Usage: server_errors.py LOG ALLOWED-SQLSTATES (comma-separated)

An error is compute's own when its LOCATION is in compute's C++ sources (a
*.cpp file: the only C++ in the server); an error raised by PostgreSQL code
while compute ran (SPI, the executor, a cast) is attributed to compute when
its CONTEXT or LOCATION names compute (an SPI statement on compute.jobs, a
compute function). Fails (exit 1) on:
  * an internal error (SQLSTATE XX000, class XX) attributed to compute;
  * an error compute raised itself with a SQLSTATE outside ALLOWED.
Internal errors elsewhere (a PostgreSQL bug sqlsmith found) are printed, not
failed on. Prints the SQLSTATEs of compute's own errors and the C++ function
that raised each, whatever the outcome.
"""

import collections
import re
import sys

ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] ([A-Z]+):  (.*)$")
ERROR = re.compile(r"^([0-9A-Z]{5}): (.*)$")


def entries(path):
    """Yield dicts {level, code, message, location, context} per log entry."""
    cur = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = ENTRY.match(line)
            if m and m.group(2) in ("LOCATION", "CONTEXT", "DETAIL", "HINT", "STATEMENT", "QUERY") and cur:
                cur[m.group(2).lower()] = cur.get(m.group(2).lower(), "") + m.group(3)
                last = m.group(2).lower()
                cur["_last"] = last
                continue
            if m:
                if cur:
                    yield cur
                cur = {"level": m.group(2), "code": None, "message": m.group(3), "_last": "message"}
                e = ERROR.match(m.group(3))
                if e:
                    cur["code"], cur["message"] = e.group(1), e.group(2)
                continue
            if cur:  # a continuation line of the last field
                cur[cur["_last"]] = cur.get(cur["_last"], "") + "\n" + line
    if cur:
        yield cur


def main():
    path, allowed = sys.argv[1], set(filter(None, sys.argv[2].split(",")))
    own = collections.Counter()
    raisers = collections.Counter()
    failures = []
    elsewhere = []
    total = 0
    for e in entries(path):
        if e["level"] not in ("ERROR", "FATAL", "PANIC") or not e["code"]:
            continue
        total += 1
        location = e.get("location", "")
        context = e.get("context", "")
        mine = bool(re.search(r"\.cpp:\d+$", location))
        about = mine or "compute." in context or "compute_" in location
        if e["code"].startswith("XX"):
            shown = "%s %s (LOCATION: %s; CONTEXT: %s)" % (e["code"], e["message"][:200], location or "none",
                                                       context.replace("\n", " | ")[:300] or "none")
            if about:
                failures.append("internal error from compute: " + shown)
            else:
                elsewhere.append(shown)
        if mine:
            own[e["code"]] += 1
            raisers["%s %s" % (location.split(",")[0], e["code"])] += 1
            if e["code"] not in allowed and not e["code"].startswith("XX"):
                failures.append("compute raised SQLSTATE %s, which it does not document: %s (LOCATION: %s)" % (
                    e["code"], e["message"][:200], location))
    print("server-errors: %d errors in the log, %d raised by compute itself: %s" % (
        total, sum(own.values()), ", ".join("%s x%d" % kv for kv in sorted(own.items())) or "none"))
    print("server-errors: raised by: %s" % (", ".join("%s x%d" % kv for kv in sorted(raisers.items())) or "none"))
    for x in elsewhere[:10]:
        print("server-errors: internal error outside compute (a PostgreSQL bug?), not failed on: %s" % x)
    by_kind = collections.Counter(f.split(":")[0] for f in failures)
    for f, n in collections.Counter(failures).most_common(20):
        print("server-errors: FAIL: %s%s" % (f, " (x%d)" % n if n > 1 else ""))
    if failures:
        print("server-errors: FAILED: %s" % ", ".join("%d %s" % (n, k) for k, n in sorted(by_kind.items())))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
