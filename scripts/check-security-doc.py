#!/usr/bin/env python3
"""Checks that docs/SECURITY.md points at things that exist.

Each guarantee there names where it is enforced and which test holds it; a rename or a move
that leaves a name behind makes the document claim a test or a function nobody can find (a
refactor once left a removed function named there). This reads the guarantees
table and the attack-pass findings table and checks, against the files git tracks:
- every path (`core/src/wire/classify/`, `npm/gate.rs`, a bare `gate.rs`) is a tracked file or
  folder, or the end of one's path;
- every identifier (`private_file`, `sameOperation`, a Rust test's name, `prefix_*`) occurs as
  a word in a tracked source file;
- every end-to-end id (`G13`, `P4`) and every quoted or `…`-ended test title begins a test's
  title in a tracked test file.
Other backquoted words (`EOTP`, `401`, feature names) are prose and are not checked.
Exits 1 and lists what it could not find.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = re.compile(r"\.(rs|js|mjs|cjs|ts|py|sh|toml|json|wit|lua)$")
TESTS = re.compile(r"(^|/)tests?/|\.test\.mjs$")
# End-to-end ids as test titles begin with them and the tables cite them: `G6, G11`.
ID_LIST = re.compile(r"[GP]\d+(?:, ?[GP]\d+)*")


def split_ids(text):
    return [x.strip() for x in text.split(",")]


def tracked():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.splitlines() if p]


def rows(text):
    """The cells of the two tables' rows: (label, [cells])."""
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        head = cells[0]
        if re.fullmatch(r"\d+", head) or re.match(r"[GP]\d+ ", head):
            yield head.split(" ")[0], cells[1:]


def main():
    files = tracked()
    folders = {"/".join(f.split("/")[:i]) + "/" for f in files for i in range(1, f.count("/") + 1)}
    sources = {}
    for f in files:
        # Not this script: a name quoted here as an example would count as found.
        if SOURCE.search(f) and not f.startswith("docs/") and f != "scripts/check-security-doc.py":
            try:
                sources[f] = (ROOT / f).read_text(encoding="utf-8", errors="replace")
            except (IsADirectoryError, FileNotFoundError):
                continue
    everything = "\n".join(sources.values())
    titles = []
    for f, text in sources.items():
        if TESTS.search(f):
            titles += re.findall(r"""\b(?:test|it)\(\s*['"`]([^'"`]+)""", text)
    # A suite run once per backend names its tests `${backend}: …`.
    titles = [re.sub(r"^\$\{\w+\}:? ?", "", t) for t in titles]
    ids = {i for t in titles if (lead := ID_LIST.match(t)) for i in split_ids(lead.group(0))}

    def path_exists(p):
        if not p.endswith("/") and (p in files or any(f.endswith("/" + p) for f in files)):
            return True
        d = p.rstrip("/") + "/"
        return d in folders or any(x.endswith("/" + d) for x in folders)

    def word_exists(w):
        if w.endswith("_*"):
            return re.search(r"\b" + re.escape(w[:-1]), everything) is not None
        return re.search(r"\b" + re.escape(w) + r"\b", everything) is not None

    def title_exists(t):
        t = t.rstrip("…").rstrip()
        return any(x.startswith(t) for x in titles)

    text = (ROOT / "docs/SECURITY.md").read_text(encoding="utf-8")
    missing = []
    checked = 0
    for label, cells in rows(text):
        for n, cell in enumerate(cells):
            # Test titles are named only in the last column (what holds the guarantee).
            held_by = n == len(cells) - 1
            for token in re.findall(r"`([^`]+)`", cell):
                for part in split_ids(token) if ID_LIST.fullmatch(token) else [token]:
                    if re.fullmatch(r"\w[\w.-]*/[\w./-]*|\w[\w.-]*\.(rs|js|mjs|json|toml|wit)", part):
                        ok, kind = path_exists(part), "path"
                    elif re.fullmatch(r"[GP]\d+", part):
                        ok, kind = part in ids, "e2e id"
                    elif part.endswith("…") and held_by:
                        ok, kind = title_exists(part), "test title"
                    elif re.fullmatch(r"[a-z]+(_[a-z0-9]+){1,}(_\*)?|[a-z]+[A-Z]\w*", part):
                        ok, kind = word_exists(part), "identifier"
                    else:
                        continue
                    checked += 1
                    if not ok:
                        missing.append(f"{label}: {kind} `{part}`")
            for quoted in re.findall(r'"([^"]{12,})"', cell) if held_by else []:
                checked += 1
                if not title_exists(quoted):
                    missing.append(f"{label}: test title \"{quoted}\"")
    if checked == 0:
        print("check-security-doc: found nothing to check; has the table's format changed?")
        return 1
    if missing:
        print("docs/SECURITY.md names what the repository does not have:")
        for m in missing:
            print("  " + m)
        return 1
    print(f"docs/SECURITY.md: {checked} references, all found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
