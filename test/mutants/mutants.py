#!/usr/bin/env python3
"""The mutant list of scripts/check-mutants.sh (see test/mutants/mutants.txt).

  mutants.py list LIST ROOT          validate every mutant against the tree
                                     ROOT; print one line per mutant:
                                     name TAB pending(0|1) TAB file TAB check
  mutants.py apply LIST ROOT NAME    apply mutant NAME to the tree ROOT

Both fail (exit 1, with the reason on stderr) on a malformed list, a
duplicate name, an unknown check kind, a missing file, or a text to replace
that is not found exactly once: a list that no longer matches the code must
not pass silently.
"""
import sys

KEYS = ("name", "why", "file", "find", "replace", "check", "pending")
REQUIRED = ("name", "file", "find", "replace", "check")
KINDS = ("regress", "regress-preloaded", "isolation", "isolation-preloaded", "unit", "script")


def fail(message):
    print("mutants: " + message, file=sys.stderr)
    sys.exit(1)


def unescape(value):
    """find and replace may span lines: \\n is a newline, \\t a tab, \\\\ a backslash."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[value[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(path):
    mutants, block, first_line = [], {}, 0
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if line.strip() == "":
            if block:
                missing = [k for k in REQUIRED if k not in block]
                if missing:
                    fail(f"{path}:{first_line}: mutant without {', '.join(missing)}")
                block["line"] = first_line
                mutants.append(block)
            block = {}
            continue
        key, sep, value = line.partition(": ")
        if not sep or key not in KEYS:
            fail(f"{path}:{number}: expected 'key: value' with key one of {', '.join(KEYS)}: {line!r}")
        if key in block:
            fail(f"{path}:{number}: {key} given twice in one mutant")
        if not block:
            first_line = number
        if key in ("find", "replace"):
            value = unescape(value)
        block[key] = value
    names = set()
    for m in mutants:
        if m["name"] in names or not m["name"] or any(c.isspace() for c in m["name"]):
            fail(f"{path}:{m['line']}: mutant name {m['name']!r} is empty, has a space or is taken")
        names.add(m["name"])
        words = m["check"].split()
        if not words or words[0] not in KINDS or len(words) < 2:
            fail(f"{path}:{m['line']}: {m['name']}: check {m['check']!r}: expected one of {', '.join(KINDS)} and its argument")
        if m["find"] == m["replace"]:
            fail(f"{path}:{m['line']}: {m['name']}: the replacement is the text itself")
    return mutants


def mutate(root, m, write):
    path = f"{root}/{m['file']}"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail(f"{m['name']}: {m['file']}: {e.strerror}")
    found = text.count(m["find"])
    if found != 1:
        fail(f"{m['name']}: the text to replace is found {found} times in {m['file']} (must be exactly once): {m['find']!r}")
    if write:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(m["find"], m["replace"]))


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("list", "apply") or (sys.argv[1] == "apply") != (len(sys.argv) == 5):
        fail("usage: mutants.py list LIST ROOT | apply LIST ROOT NAME")
    mutants = parse(sys.argv[2])
    root = sys.argv[3]
    if sys.argv[1] == "list":
        for m in mutants:
            mutate(root, m, False)
            print(f"{m['name']}\t{1 if 'pending' in m else 0}\t{m['file']}\t{m['check']}")
        return
    chosen = [m for m in mutants if m["name"] == sys.argv[4]]
    if not chosen:
        fail(f"no mutant named {sys.argv[4]!r}")
    mutate(root, chosen[0], True)


if __name__ == "__main__":
    main()
