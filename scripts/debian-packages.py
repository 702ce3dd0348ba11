#!/usr/bin/env python3
"""Makes scripts/debian-packages.csv.gz: Debian package descriptions labelled by archive section,
the text task behind prune's `debian_packages()`.

    python3 scripts/debian-packages.py            # as root: refreshes a private copy of apt's lists

What it does:
  1. `apt-get update` into a private lists folder (so the system's lists are left alone), with
     the English translations switched on: since Debian 6 the long descriptions live in the
     Translation-en files, not in Packages, and Docker images turn translations off.
  2. `apt-cache dumpavail` on those lists gives every package's name, Section and Description-md5;
     the Translation-en files give the description for that md5.
  3. Topical sections only (TOPICAL below): language ecosystems, libraries, documentation, debug,
     kernel, metapackages, fonts, localisation and desktop suites are left out because the package
     name gives their label away. The `contrib/`, `non-free/` prefix of a section is dropped.
  4. text = the short description, then the first paragraph of the long one (up to Debian's " ."
     separator line), whitespace collapsed to single spaces.
  5. Texts that occur more than once are kept once (the first package in name order).
  6. Optionally at most --cap packages per section (those with the smallest FNV-1a hash).
The CSV has the columns package, section, text, sorted by package, gzip without a timestamp so
that the same archive gives the same bytes. prune splits it into train and test itself: a
package is in the test split when FNV-1a-64 of its name's UTF-8 bytes is divisible by 5 (about
a fifth), so a package never changes split when the snapshot is remade.
"""
import argparse
import atexit
import collections
import csv
import glob
import gzip
import io
import os
import shutil
import subprocess
import sys
import tempfile

TOPICAL = ["admin", "comm", "database", "editors", "electronics", "games", "graphics", "hamradio",
           "mail", "math", "net", "science", "sound", "text", "vcs", "video", "web"]


def fnv1a64(name):
    h = 0xcbf29ce484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def split_of(name):
    return "test" if fnv1a64(name) % 5 == 0 else "train"


def stanzas(text):
    """Debian control stanzas as dicts; continuation lines keep their leading space."""
    record, key = {}, None
    for line in text.split("\n"):
        if not line.strip():
            if record:
                yield record
            record, key = {}, None
        elif line[0] in " \t" and key:
            record[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            record[key] = value.strip()
    if record:
        yield record


def description_text(description):
    """Short description plus the first paragraph of the long one, on one line."""
    lines = description.split("\n")
    words = [lines[0].strip()]
    for line in lines[1:]:
        if line.strip() == ".":
            break
        words.append(line.strip())
    return " ".join(" ".join(words).split())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", help="an apt lists folder already holding Packages and Translation-en "
                                    "(default: refresh a private one with apt-get update)")
    ap.add_argument("--out", default=os.path.join(here, "debian-packages.csv.gz"))
    ap.add_argument("--cap", type=int, default=0, help="at most this many packages per section (0: all)")
    args = ap.parse_args()

    lists = args.lists or tempfile.mkdtemp(prefix="prune-apt-lists-")
    options = ["-o", f"Dir::State::Lists={lists}", "-o", "Acquire::Languages=en",
               "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="]
    if not args.lists:
        # apt downloads as the _apt user, which must be able to enter the folder.
        os.chmod(lists, 0o755)
        os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
        atexit.register(shutil.rmtree, lists, ignore_errors=True)
        subprocess.run(["apt-get", "update", "-qq"] + options, check=True)
    dump = subprocess.run(["apt-cache"] + options + ["dumpavail"], check=True, capture_output=True).stdout
    translations = sorted(glob.glob(os.path.join(lists, "*_i18n_Translation-en*")))
    if not translations:
        sys.exit(f"no Translation-en files in {lists}; run apt-get update with -o Acquire::Languages=en")

    long_by_md5 = {}
    for path in translations:
        raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True, capture_output=True).stdout
        for st in stanzas(raw.decode("utf-8", "replace")):
            if "Description-md5" in st and "Description-en" in st:
                long_by_md5[st["Description-md5"]] = st["Description-en"]

    packages = {}
    sections_seen = collections.Counter()
    for st in stanzas(dump.decode("utf-8", "replace")):
        name, section = st.get("Package"), st.get("Section", "")
        if not name or name in packages:
            continue
        section = section.split("/")[-1]
        sections_seen[section] += 1
        if section not in TOPICAL:
            continue
        description = long_by_md5.get(st.get("Description-md5", ""), st.get("Description", ""))
        text = description_text(description)
        if text:
            packages[name] = (section, text)

    rows, seen = [], set()
    for name in sorted(packages):
        section, text = packages[name]
        if text in seen:
            continue
        seen.add(text)
        rows.append((name, section, text))
    if args.cap > 0:
        by_section = collections.defaultdict(list)
        for r in rows:
            by_section[r[1]].append(r)
        keep = set()
        for group in by_section.values():
            keep.update(r[0] for r in sorted(group, key=lambda r: fnv1a64(r[0]))[: args.cap])
        rows = [r for r in rows if r[0] in keep]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["package", "section", "text"])
    writer.writerows(rows)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as z:
            z.write(buffer.getvalue().encode("utf-8"))
    os.replace(tmp, args.out)

    counts = collections.Counter((r[1], split_of(r[0])) for r in rows)
    print(f"{len(rows)} packages from {sum(sections_seen.values())} ({len(long_by_md5)} long descriptions), "
          f"{os.path.getsize(args.out)} bytes -> {args.out}")
    print(f"{'section':12} {'train':>6} {'test':>6}")
    for s in TOPICAL:
        print(f"{s:12} {counts[(s, 'train')]:6} {counts[(s, 'test')]:6}")


if __name__ == "__main__":
    main()
