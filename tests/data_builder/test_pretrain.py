#!/usr/bin/env python3
"""The en->de pretraining corpus builder (scripts/data/pretrain.py) on a small fixture
(tests/data_builder/fixture, README.md there): the exact pairs that come out, the filters
(placeholders, markup, mnemonics, length, untranslated), plural and context handling,
deduplication with its vote, the leakage removal against the held-out splits (and its count),
the documentation aligners, the licences, and byte-identical output on a second run.

Usage: test_pretrain.py  (exit 0 when every check passes)"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(HERE, "fixture")
sys.path.insert(0, os.path.join(ROOT, "scripts", "data"))

import pretrain  # noqa: E402
from pretrain_text import clean_message, english_key, split_sentences  # noqa: E402

# Every pair of the fixture's corpus: (English, German, domain, origin).
EXPECTED = sorted([
    # the LibreOffice help and Ding training splits, as they are (one LibreOffice pair is held
    # out: its English is in the LibreOffice test split but for the final full stop)
    ("Choose Format - Character to change the font.",
     "Wählen Sie Format - Zeichen, um die Schrift zu ändern.", "help",
     "libreoffice-en-de:text/swriter/a.html#par_id1"),
    # "Show the hidden files" has four translations, each given once: the earliest source wins
    ("Show the hidden files.", "Verborgene Dateien anzeigen.", "help",
     "libreoffice-en-de:text/swriter/b.html#par_id2"),
    ("She is careful about what she eats.", "Sie achtet darauf, was sie isst.", "dictionary",
     "ding-en-de:de-en:10|1"),
    ("The tent stood up to the wind.", "Das Zelt hielt dem Wind stand.", "dictionary",
     "ding-en-de:de-en:20|2"),
    # GNOME help: blocks outside <info>, <code> skipped, a key sequence joined with "+", a
    # two-sentence paragraph cut into its sentences (#1.1, #1.2); the untranslated paragraph
    # and the page whose German has fewer blocks are not there
    ("Find your saved files", "Ihre gespeicherten Dateien finden", "help",
     "gnome-user-docs:guide/files.page#0"),
    ("Open the Files application from the Activities overview.",
     "Öffnen Sie die Anwendung Dateien in der Aktivitäten-Übersicht.", "help",
     "gnome-user-docs:guide/files.page#1.1"),
    ("Your documents are in the Documents folder.",
     "Ihre Dokumente befinden sich im Ordner Dokumente.", "help",
     "gnome-user-docs:guide/files.page#1.2"),
    ("Click Search in the header bar.", "Klicken Sie in der Kopfleiste auf Suchen.", "help",
     "gnome-user-docs:guide/files.page#2"),
    ("Type a part of the file name.", "Geben Sie einen Teil des Dateinamens ein.", "help",
     "gnome-user-docs:guide/files.page#3"),
    ("Show hidden files too", "Auch verborgene Dateien anzeigen", "help",
     "gnome-user-docs:guide/files.page#4"),
    ("Press Ctrl+H to show hidden files.",
     "Drücken Sie Strg+H, um verborgene Dateien anzuzeigen.", "help",
     "gnome-user-docs:guide/files.page#5"),
    # the handbook: <head>, navigation and <pre> not read; the paragraph around a list is cut
    # at the list (#2, #3, #4)
    ("Maintenance and Updates: The APT Tools", "Wartung und Aktualisierungen: Die APT-Werkzeuge",
     "handbook", "debian-handbook:apt.html#0"),
    ("What makes Debian so popular with administrators is how easily software can be "
     "installed.", "Dass Debian bei Administratoren so beliebt ist, liegt an der einfachen "
     "Installation von Software.", "handbook", "debian-handbook:apt.html#1.1"),
    ("This unique advantage is largely due to the APT program.",
     "Dieser einzigartige Vorteil rührt weitestgehend vom Programm APT.", "handbook",
     "debian-handbook:apt.html#1.2"),
    ("APT needs a list of package sources:", "APT benötigt eine Liste von Paketquellen:",
     "handbook", "debian-handbook:apt.html#2"),
    ("the main archive of the distribution", "das Hauptarchiv der Distribution", "handbook",
     "debian-handbook:apt.html#3"),
    ("The file lists them one per line.", "Die Datei führt sie zeilenweise auf.", "handbook",
     "debian-handbook:apt.html#4"),
    ("The command shown above refreshes the list of available packages.",
     "Der oben gezeigte Befehl aktualisiert die Liste der verfügbaren Pakete.", "handbook",
     "debian-handbook:apt.html#5"),
    # catalogs: mnemonics (_ & ~, && a literal &) stripped, formatting markup and entities
    # removed, "100%" kept, the plural's singular, a message with a context, and a message of
    # more than 40 words cut into its two sentences
    ("Save the current document", "Das aktuelle Dokument speichern", "software",
     "app-l10n:app.mo"),
    ("Open a recent file", "Zuletzt verwendete Datei öffnen", "software", "app-l10n:app.mo"),
    ("Close all windows now", "Alle Fenster jetzt schließen", "software", "app-l10n:app.mo"),
    ("Insert a new table", "Neue Tabelle einfügen", "software", "app-l10n:app.mo"),
    ("Cut & paste the selection", "Auswahl ausschneiden & einfügen", "software",
     "app-l10n:app.mo"),
    ("Zoom the page to 100% of its size", "Seite auf 100 % ihrer Größe zoomen", "software",
     "app-l10n:app.mo"),
    ("Warning: the file is read-only", "Warnung: die Datei ist schreibgeschützt", "software",
     "app-l10n:app.mo"),
    ("Tom & Jerry are good friends", "Tom & Jerry sind gute Freunde", "software",
     "app-l10n:app.mo"),
    ("Delete the selected file", "Die ausgewählte Datei löschen", "software", "app-l10n:app.mo"),
    ("Print the whole document", "Das ganze Dokument drucken", "software", "app-l10n:app.mo"),
    ("The backup runs every night and copies all documents and settings of the users to the "
     "old server in the basement.", "Die Sicherung läuft jede Nacht und kopiert alle Dokumente "
     "und Einstellungen der Benutzer auf den alten Server im Keller.", "software",
     "app-l10n:app.mo.1"),
    ("It can take several hours when many files have changed since the last run, so please "
     "leave the computer switched on overnight and do not unplug it.", "Sie kann mehrere "
     "Stunden dauern, wenn sich seit dem letzten Lauf viele Dateien geändert haben, lassen Sie "
     "den Rechner daher über Nacht eingeschaltet und ziehen Sie nicht den Stecker.",
     "software", "app-l10n:app.mo.2"),
    # "Save the file." (app) and "save the file" (other) are one sentence: a tie, the first wins
    ("Save the file.", "Die Datei speichern.", "software", "app-l10n:app.mo"),
    # two catalogs (other-l10n, base-tool) against one (app-l10n): the majority wins
    ("Close the document window", "Dokumentfenster schließen", "software",
     "other-l10n:other.mo"),
    ("Remove the package and its configuration files",
     "Das Paket und seine Konfigurationsdateien entfernen", "software", "base-tool:base.mo"),
])

# What each source lost and kept (STATS): source -> {column: count}.
EXPECTED_STATS = {
    "libreoffice-help": {"raw": 3, "clean": 3, "distinct": 3, "held_out": 1, "train": 2},
    "ding": {"raw": 2, "clean": 2, "distinct": 2, "train": 2},
    "gnome-user-docs": {"raw": 7, "sentences": 2, "untranslated": 1, "clean": 7,
                        "distinct": 7, "train": 7},
    "debian-handbook": {"raw": 6, "sentences": 2, "clean": 7, "distinct": 7, "train": 7},
    # placeholders: %s, %1$s, {0}, ${name}; markup: <file>; identifier: two snake_case names;
    # length: "Open", "Save file", the 45-word sentence; untranslated: msgstr == msgid. The
    # fuzzy and the empty entry are not in the .mo at all. Held out: "Select the text that
    # you want to format" (LibreOffice test).
    "gettext-l10n": {"raw": 28, "sentences": 2, "placeholder": 4, "markup": 1, "identifier": 1,
                     "length": 3, "untranslated": 1, "clean": 19, "distinct": 15,
                     "held_out_(before_dedup)": 1, "held_out": 1, "train": 14},
    # held out: "In the beginning was the Word" (Bible test, with a full stop there)
    "gettext-system": {"raw": 4, "clean": 4, "distinct": 2, "held_out_(before_dedup)": 1,
                       "held_out": 1, "train": 1},
}
EXPECTED_STATS["libreoffice-help"]["held_out_(before_dedup)"] = 1

EXPECTED_LICENSES = [
    "libreoffice-en-de\t2\tMPL-2.0 (the LibreOffice help; see docs/data.md)",
    "ding-en-de\t2\tGPL-2+ (Ding, trans-de-en)",
    "app-l10n\t13\tGPL-2+; LGPL-2.1+",
    "base-tool\t1\tnot machine-readable (see its copyright file)",
    "debian-handbook\t7\tGPL-2.0+ or CC-BY-SA-3.0",
    "gnome-user-docs\t7\tCC-BY-SA-3.0",
    "other-l10n\t1\tsee the copyright of app-l10n",
]


def read_rows(out, split):
    with open(os.path.join(out, split + ".tsv"), encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f]
    with open(os.path.join(out, split + ".ref"), encoding="utf-8") as f:
        refs = [line.rstrip("\n").split("\t") for line in f]
    assert len(pairs) == len(refs)
    return [(p[0], p[1], r[0], r[1]) for p, r in zip(pairs, refs)]


def build(out):
    pretrain.build(os.path.join(FIXTURE, "data"), os.path.join(FIXTURE, "unpacked"),
                   os.path.join(FIXTURE, "MANIFEST"), out)


class PretrainCorpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="proact-pretrain-test-")
        cls.out = os.path.join(cls.tmp, "a")
        build(cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_exact_pairs(self):
        rows = read_rows(self.out, "train") + read_rows(self.out, "valid")
        self.assertEqual(sorted(rows), EXPECTED)

    def test_order_and_split(self):
        """Lines are ordered by SHA-256 of the English key; valid holds the keys whose hash
        falls in the first 10 of 1000 buckets (none of this fixture's)."""
        for split in ("train", "valid"):
            keys = [english_key(r[0]) for r in read_rows(self.out, split)]
            digests = [hashlib.sha256(k.encode("utf-8")).digest() for k in keys]
            self.assertEqual(digests, sorted(digests))
            for d in digests:
                self.assertEqual(int.from_bytes(d[:8], "big") % 1000 < 10, split == "valid")
        self.assertEqual(read_rows(self.out, "valid"), [])

    def test_stats(self):
        with open(os.path.join(self.out, "STATS"), encoding="utf-8") as f:
            lines = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
        header, rows = lines[0], {r[0]: dict(zip(lines[0][1:], map(int, r[1:])))
                                  for r in lines[1:]}
        self.assertEqual(header[0], "source")
        for source, want in EXPECTED_STATS.items():
            got = {k: v for k, v in rows[source].items() if v}
            self.assertEqual(got, want, source)
        self.assertEqual(rows["total"]["held_out"], 3)  # the leakage count reported in docs

    def test_licences(self):
        with open(os.path.join(self.out, "LICENSES"), encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if not line.startswith("#")]
        self.assertEqual(lines, EXPECTED_LICENSES)

    def test_deterministic(self):
        again = os.path.join(self.tmp, "b")
        build(again)
        for name in sorted(os.listdir(self.out)):
            with open(os.path.join(self.out, name), "rb") as a, \
                    open(os.path.join(again, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)


class TextRules(unittest.TestCase):
    def test_clean_message(self):
        cases = {
            "_Save the file": ("Save the file", None),
            "Sa_ve the file": ("Save the file", None),
            "&Quit && exit now": ("Quit & exit now", None),
            "Use ~/.config for settings": ("Use ~/.config for settings", None),
            "Load %d files": (None, "placeholder"),
            "Load %(count)s files": (None, "placeholder"),
            "gcc %qs attribute ignored": (None, "placeholder"),
            "Rotate by {angle} degrees": (None, "placeholder"),
            "Set $HOME first": (None, "placeholder"),
            "Installed in @PREFIX@ now": (None, "placeholder"),
            "Reached 50% of the total": ("Reached 50% of the total", None),
            "<span weight='bold'>Note</span> the&#160;change": ("Note the change", None),
            "<filename> was not found": (None, "markup"),
            "Set font_name and font_size": (None, "identifier"),
        }
        for raw, want in cases.items():
            self.assertEqual(clean_message(raw), want, raw)

    def test_split_sentences(self):
        self.assertEqual(split_sentences("Open it. Then close it!"), ["Open it.", "Then close it!"])
        # abbreviations, initials and numbers end no sentence
        self.assertEqual(split_sentences("Use e.g. Vim here. Done."),
                         ["Use e.g. Vim here.", "Done."])
        self.assertEqual(split_sentences("Das ist z. B. Vim. Gut."), ["Das ist z. B. Vim.", "Gut."])
        self.assertEqual(split_sentences("Am 1. Januar. Neu."), ["Am 1. Januar.", "Neu."])

    def test_english_key(self):
        self.assertEqual(english_key("  Save the FILE. "), "save the file")
        self.assertEqual(english_key("Cut & paste: the_selection!"), "cut paste the selection")


class FixtureCatalogs(unittest.TestCase):
    def test_mo_files_are_msgfmt_of_the_po_files(self):
        """The committed .mo files are msgfmt's output for the .po files beside them (when
        msgfmt, from Debian's gettext, is installed; otherwise this check is skipped)."""
        if shutil.which("msgfmt") is None:
            self.skipTest("msgfmt not installed")
        pairs = {"app": "app-l10n/usr/share/locale/de/LC_MESSAGES/app.mo",
                 "app-ch": "app-l10n/usr/share/locale/de_CH/LC_MESSAGES/app.mo",
                 "other": "other-l10n/usr/share/locale/de/LC_MESSAGES/other.mo",
                 "base": "base-tool/usr/share/locale/de/LC_MESSAGES/base.mo"}
        with tempfile.TemporaryDirectory() as tmp:
            for po, mo in pairs.items():
                made = os.path.join(tmp, po + ".mo")
                subprocess.run(["msgfmt", "-o", made, os.path.join(FIXTURE, "po", po + ".po")],
                               check=True)
                with open(made, "rb") as a, open(os.path.join(FIXTURE, "unpacked", mo), "rb") as b:
                    self.assertEqual(a.read(), b.read(), mo)


if __name__ == "__main__":
    unittest.main(verbosity=2)
