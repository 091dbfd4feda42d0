#!/usr/bin/env python3
"""Builds the en->de pretraining corpus en-de-pretrain/ (scripts/fetch-data.sh --pretrain).

Called by scripts/fetch-data.sh, which downloads and unpacks the packages; this script only
reads local files, so the same package versions give byte-identical output. Standard library
only. docs/data.md describes the corpus.

Subcommands
  build DATA UNPACKED MANIFEST OUT
      DATA      the directory holding the built corpora libreoffice-en-de/, ding-en-de/ and
                bible-en-es/ (their training splits are sources, their valid and test splits
                are held out)
      UNPACKED  a directory with one unpacked package tree per package: UNPACKED/<package>/
      MANIFEST  one line per package: "<package> <version> <group>", where group is system
                (the catalogs of a fresh machine), l10n (the listed translation packages),
                gnome-user-docs or debian-handbook
      OUT       where train.tsv, train.ref, valid.tsv, valid.ref, PACKAGES, LICENSES and STATS
                are written
  counts DIR  table of pairs and words per split and domain of the corpus in DIR

Every .tsv line is "English TAB German"; the .ref line beside it is "domain TAB origin".
"""

import hashlib
import os
import re
import sys

from build_corpora import clean_text, n_words, read_split
from pretrain_sources import read_catalogs, read_gnome_help, read_handbook
from pretrain_text import (MAX_WORDS, PLACEHOLDER, clean_message, english_key, pair_problem,
                           sentence_pairs)

# Sources, in the order that breaks ties between translations (see choose_translations): the
# human-written documentation first, then the catalogs.
SOURCES = ("libreoffice-help", "ding", "gnome-user-docs", "debian-handbook", "gettext-l10n",
           "gettext-system")
DOMAIN = {"libreoffice-help": "help", "ding": "dictionary", "gnome-user-docs": "help",
          "debian-handbook": "handbook", "gettext-l10n": "software",
          "gettext-system": "software"}
DOMAINS = ("software", "help", "handbook", "dictionary")
GROUPS = {"system": "gettext-system", "l10n": "gettext-l10n",
          "gnome-user-docs": "gnome-user-docs", "debian-handbook": "debian-handbook"}
HELD_OUT = (("libreoffice-en-de", "valid"), ("libreoffice-en-de", "test"),
            ("ding-en-de", "valid"), ("ding-en-de", "test"),
            ("bible-en-es", "valid"), ("bible-en-es", "test"))
VALID_PER_MILLE = 10  # 1% of the distinct English sentences: the pretraining's held-out loss
DROP_REASONS = ("placeholder", "markup", "identifier", "empty", "length", "untranslated",
                "ratio")


class Stats:
    """Counters per source, written to STATS: raw pairs, drops by reason, pairs kept."""

    def __init__(self):
        self.c = {}

    def add(self, source, what, n=1):
        self.c.setdefault(source, {})
        self.c[source][what] = self.c[source].get(what, 0) + n

    def get(self, source, what):
        return self.c.get(source, {}).get(what, 0)


def read_manifest(path):
    """[(package, version, source)] in file order."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3 or parts[2] not in GROUPS:
                raise SystemExit("pretrain.py: error: %s:%d: expected '<package> <version> "
                                 "<group>' with group one of %s" % (path, lineno,
                                                                   ", ".join(GROUPS)))
            rows.append((parts[0], parts[1], GROUPS[parts[2]]))
    return rows


def raw_pairs(data_dir, unpacked, manifest, source_stats):
    """(English, German, origin, source, kind) of every source in SOURCES order; kind is
    "message" (a gettext message: to be cleaned), "doc" (a documentation block: to be split
    into sentences) or "corpus" (a pair of an already built corpus)."""
    for r in read_split(os.path.join(data_dir, "libreoffice-en-de"), "train"):
        yield r[0], r[1], "libreoffice-en-de:" + r[2], "libreoffice-help", "corpus"
    for r in read_split(os.path.join(data_dir, "ding-en-de"), "train"):
        yield r[0], r[1], "ding-en-de:" + r[2], "ding", "corpus"
    by_source = {}
    for pkg, _, source in manifest:
        by_source.setdefault(source, []).append(pkg)
    readers = {"gnome-user-docs": read_gnome_help, "debian-handbook": read_handbook}
    for source in SOURCES[2:]:
        for pkg in sorted(by_source.get(source, [])):
            root = os.path.join(unpacked, pkg)
            if not os.path.isdir(root):
                raise SystemExit("pretrain.py: error: %s: no unpacked package %s" % (root, pkg))
            st = source_stats.setdefault(source, {})
            if source in readers:
                for en, de, origin in readers[source](root, st):
                    yield en, de, origin, source, "doc"
            else:
                for en, de, origin in read_catalogs(pkg, root, st):
                    yield en, de, origin, source, "message"


def cleaned_pairs(raw, stats):
    """(English, German, origin, source) of the raw pairs that pass the filters."""
    for en, de, origin, source, kind in raw:
        stats.add(source, "raw")
        if kind == "message":
            en, why = clean_message(en)
            if why is None:
                de, why = clean_message(de)
            # A message longer than the limit (a tooltip, an option's description) is cut
            # into sentences like a documentation block; a shorter one stays whole.
            parts = ([] if why else sentence_pairs(en, de) if n_words(en) > MAX_WORDS
                     else [(en, de, 0)])
        else:
            en, de = clean_text(en), clean_text(de)
            why = "placeholder" if PLACEHOLDER.search(en + " " + de) else None
            parts = [] if why else (sentence_pairs(en, de) if kind == "doc" else [(en, de, 0)])
        if why:
            stats.add(source, why)
            continue
        for e, d, part in parts:
            if part:
                stats.add(source, "sentences")
            why = pair_problem(e, d)
            if why:
                stats.add(source, why)
                continue
            stats.add(source, "clean")
            yield e, d, origin + ("" if part == 0 else ".%d" % part), source


def held_out_keys(data_dir):
    """English keys of every valid and test split of the existing corpora."""
    keys = set()
    for corpus, split in HELD_OUT:
        keys.update(english_key(r[0]) for r in read_split(os.path.join(data_dir, corpus), split))
    return keys


def choose_translations(pairs):
    """Deduplication by the English key: one pair per key. Of several German translations the
    one given by the most distinct origins wins (a catalog counts once however many contexts
    repeat the message); a tie goes to the earliest pair in source order. The English text is
    that earliest pair's. Returns [(key, English, German, origin, source)]."""
    groups = {}  # key -> {German: [first index, set of origins]}; dicts keep first-seen order
    rows = []
    for i, (en, de, origin, source) in enumerate(pairs):
        rows.append((en, de, origin, source))
        g = groups.setdefault(english_key(en), {})
        votes = g.setdefault(de, [i, set()])
        votes[1].add(origin)  # a catalog's origin is the catalog, a document's the block
    out = []
    for key, g in groups.items():
        first, _ = min(g.values(), key=lambda v: (-len(v[1]), v[0]))
        en, de, origin, source = rows[first]
        out.append((key, en, de, origin, source))
    return out


def order_key(key):
    """Output order: by SHA-256 of the English key, a deterministic shuffle that mixes the
    domains (a reader that takes the first N lines gets a sample of all of them)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def write_rows(path_base, rows):
    """rows: (English, German, domain, origin) -> path_base.tsv and path_base.ref."""
    with open(path_base + ".tsv", "w", encoding="utf-8", newline="\n") as f:
        for en, de, _, _ in rows:
            assert "\t" not in en + de and "\n" not in en + de and en and de
            f.write(en + "\t" + de + "\n")
    with open(path_base + ".ref", "w", encoding="utf-8", newline="\n") as f:
        for _, _, domain, origin in rows:
            f.write(domain + "\t" + origin + "\n")


LICENSE_FIELD = re.compile(r"^License:[ \t]*(\S[^\n]*)$", re.M)


def package_licences(root, pkg):
    """The distinct License: values of the package's machine-readable copyright file, or a
    note where the file is not machine-readable or is shipped by another package."""
    doc = os.path.join(root, "usr", "share", "doc", pkg)
    if os.path.islink(doc):
        return "see the copyright of %s" % os.path.basename(os.readlink(doc))
    path = os.path.join(doc, "copyright")
    if not os.path.exists(path):
        return "no copyright file"
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    found = sorted(set(m.strip() for m in LICENSE_FIELD.findall(text)))
    return "; ".join(found) if found else "not machine-readable (see its copyright file)"


def build(data_dir, unpacked, manifest_path, out_dir):
    manifest = read_manifest(manifest_path)
    stats, source_stats = Stats(), {}
    pairs = list(cleaned_pairs(raw_pairs(data_dir, unpacked, manifest, source_stats), stats))
    chosen = choose_translations(pairs)
    for _, _, _, _, source in chosen:
        stats.add(source, "distinct")
    held = held_out_keys(data_dir)
    kept = []
    for key, en, de, origin, source in chosen:
        if key in held:
            stats.add(source, "held out")
        else:
            kept.append((key, en, de, origin, source))
    # Leaked pairs before deduplication, for the report: every clean pair whose key is held out.
    for en, _, _, source in pairs:
        if english_key(en) in held:
            stats.add(source, "held out (before dedup)")
    kept.sort(key=lambda r: order_key(r[0]))
    splits = {"train": [], "valid": []}
    for key, en, de, origin, source in kept:
        bucket = int.from_bytes(order_key(key)[:8], "big") % 1000
        split = "valid" if bucket < VALID_PER_MILLE else "train"
        splits[split].append((en, de, DOMAIN[source], origin))
        stats.add(source, split)
    os.makedirs(out_dir, exist_ok=True)
    for split, rows in splits.items():
        write_rows(os.path.join(out_dir, split), rows)
    write_packages(out_dir, manifest)
    write_licences(out_dir, unpacked, manifest, splits)
    write_stats(out_dir, stats, source_stats)


def write_packages(out_dir, manifest):
    with open(os.path.join(out_dir, "PACKAGES"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# Debian bookworm packages en-de-pretrain was built from (package version "
                "group),\n# besides the corpora libreoffice-en-de and ding-en-de (../PACKAGES)\n")
        group_of = {v: k for k, v in GROUPS.items()}
        for pkg, ver, source in manifest:
            f.write("%s %s %s\n" % (pkg, ver, group_of[source]))


def write_licences(out_dir, unpacked, manifest, splits):
    """LICENSES: per package that gave pairs, its pair count and licences."""
    per_pkg = {}
    for rows in splits.values():
        for _, _, _, origin in rows:
            pkg = origin.split(":", 1)[0]
            per_pkg[pkg] = per_pkg.get(pkg, 0) + 1
    with open(os.path.join(out_dir, "LICENSES"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# package<TAB>pairs (train + valid)<TAB>licences named in its "
                "/usr/share/doc/<package>/copyright\n")
        f.write("libreoffice-en-de\t%d\tMPL-2.0 (the LibreOffice help; see docs/data.md)\n"
                % per_pkg.get("libreoffice-en-de", 0))
        f.write("ding-en-de\t%d\tGPL-2+ (Ding, trans-de-en)\n" % per_pkg.get("ding-en-de", 0))
        for pkg, _, _ in sorted(manifest):
            if per_pkg.get(pkg):
                lic = package_licences(os.path.join(unpacked, pkg), pkg)
                f.write("%s\t%d\t%s\n" % (pkg, per_pkg[pkg], lic))


STAT_COLUMNS = ("raw", "sentences") + DROP_REASONS + ("clean", "distinct",
                                                      "held out (before dedup)", "held out",
                                                      "train", "valid")


def write_stats(out_dir, stats, source_stats):
    """STATS: what happened to each source's pairs (also printed)."""
    lines = ["# en-de-pretrain: pairs per source at each step (scripts/data/pretrain.py)",
             "# raw: pairs read (catalog messages, documentation blocks, corpus pairs);",
             "# sentences: sentence pairs cut from documentation blocks; the drop reasons;",
             "# clean: pairs passing the filters; distinct: after deduplication by the English",
             "# key; held out: distinct English sentences removed because they are in a",
             "# valid or test split of libreoffice-en-de, ding-en-de or bible-en-es",
             "source\t" + "\t".join(c.replace(" ", "_") for c in STAT_COLUMNS)]
    total = {c: 0 for c in STAT_COLUMNS}
    for source in SOURCES:
        vals = [stats.get(source, c) for c in STAT_COLUMNS]
        for c, v in zip(STAT_COLUMNS, vals):
            total[c] += v
        lines.append(source + "\t" + "\t".join(str(v) for v in vals))
    lines.append("total\t" + "\t".join(str(total[c]) for c in STAT_COLUMNS))
    for source in SOURCES:
        for what, n in sorted(source_stats.get(source, {}).items()):
            lines.append("# %s: %d %s" % (source, n, what))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "STATS"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    sys.stderr.write(text)


def print_counts(corpus_dir):
    print("%-18s %-10s %8s %11s %11s" % ("en-de-pretrain", "domain", "pairs", "src words",
                                         "tgt words"))
    for split in ("train", "valid"):
        with open(os.path.join(corpus_dir, split + ".tsv"), encoding="utf-8") as f:
            pairs = [line.rstrip("\n").split("\t") for line in f]
        with open(os.path.join(corpus_dir, split + ".ref"), encoding="utf-8") as f:
            domains = [line.split("\t", 1)[0] for line in f]
        tot = [0, 0, 0]
        for domain in DOMAINS:
            sel = [p for p, d in zip(pairs, domains) if d == domain]
            n = [len(sel), sum(n_words(s) for s, _ in sel), sum(n_words(t) for _, t in sel)]
            tot = [a + b for a, b in zip(tot, n)]
            print("%-18s %-10s %8d %11d %11d" % (split, domain, *n))
        print("%-18s %-10s %8d %11d %11d" % (split, "total", *tot))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd, args = argv[1], argv[2:]
    if cmd == "build" and len(args) == 4:
        build(*args)
    elif cmd == "counts" and len(args) == 1:
        print_counts(args[0])
    else:
        print("pretrain.py: error: bad arguments for '%s' (see --help)" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
