"""Readers of the en->de pretraining corpus's sources (scripts/data/pretrain.py), each giving raw
(English, German, origin) triples in a deterministic order:

- gettext catalogs: every German .mo file (.../de/LC_MESSAGES/*.mo) in an unpacked package,
  read with the standard library's gettext.GNUTranslations;
- GNOME help (gnome-user-docs): Mallard pages usr/share/help/{C,de}/<document>/*.page, which
  itstool generates from one English source, so the German page has the English page's
  structure: the text blocks are paired in document order;
- the Debian Administrator's Handbook (debian-handbook): Publican HTML pages
  usr/share/doc/debian-handbook/html/{en-US,de-DE}/*.html, likewise paired block by block.

A page whose German twin is missing or has another number of blocks is skipped, not guessed.
"""

import gettext
import html.parser
import os
import sys
import xml.etree.ElementTree as ET

from build_corpora import clean_text


def walk_sorted(root):
    """Every file path under root, in sorted order (os.walk's order depends on the file
    system)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            yield os.path.join(dirpath, fn)


# ---------------------------------------------------------------------------------------------
# gettext catalogs


def german_catalogs(root):
    """Relative paths of the German catalogs under root: .mo files in a directory
    de/LC_MESSAGES (de only: de_AT, de_CH are regional variants; de_CH writes no ß)."""
    out = []
    for path in walk_sorted(root):
        parts = path.split(os.sep)
        if path.endswith(".mo") and len(parts) >= 3 and parts[-3:-1] == ["de", "LC_MESSAGES"]:
            out.append(os.path.relpath(path, root))
    return out


def catalog_messages(path):
    """[(msgid, msgstr)] of one .mo file, sorted by (msgid, msgctxt), without the header.

    The context (msgctxt, stored as "context\\x04msgid") is dropped from the English side. Of a
    plural entry the singular is taken: msgid with the form the catalog's Plural-Forms selects
    for n = 1 (for German form 0), since msgid_plural is not kept by GNUTranslations and the
    other forms translate it. A .mo never holds fuzzy entries (msgfmt leaves them out unless
    --use-fuzzy); an empty msgstr is left to the filters."""
    with open(path, "rb") as f:
        cat = gettext.GNUTranslations(f)
    singular = cat.plural(1)
    rows = []
    for key, msgstr in cat._catalog.items():  # the parsed table; the class has no public view
        if isinstance(key, tuple):
            msgid, form = key
            if form != singular:
                continue
        else:
            msgid = key
        ctxt, _, msgid = msgid.rpartition("\x04")
        if msgid:
            rows.append((msgid, ctxt, msgstr))
    rows.sort()
    return [(msgid, msgstr) for msgid, _, msgstr in rows]


def read_catalogs(package, root, stats):
    """(English, German, origin) of every message of the package's German catalogs; origin is
    "package:catalog.mo". A catalog that the gettext module cannot read is counted and
    skipped."""
    for rel in german_catalogs(root):
        origin = "%s:%s" % (package, os.path.basename(rel))
        try:
            messages = catalog_messages(os.path.join(root, rel))
        except (OSError, ValueError, UnicodeDecodeError) as e:  # bad magic, charset, plural
            stats["unreadable catalogs"] = stats.get("unreadable catalogs", 0) + 1
            print("  pretrain: skipped %s (%s)" % (origin, e), file=sys.stderr)
            continue
        stats["catalogs"] = stats.get("catalogs", 0) + 1
        for en, de in messages:
            yield en, de, origin


# ---------------------------------------------------------------------------------------------
# Documentation pages: blocks in document order


def paired_blocks(en_blocks, de_blocks):
    """The block pairs of one page, or None if the two pages do not have the same number of
    blocks (then the German page is not a translation of this English one)."""
    if len(en_blocks) != len(de_blocks):
        return None
    return list(zip(en_blocks, de_blocks))


MALLARD_BLOCKS = {"p", "title", "subtitle", "desc"}  # blocks holding running text
MALLARD_SKIP = {"info", "code", "screen", "media", "comment"}  # metadata, code, credits
# Sequences that yelp shows with separators between their elements.
MALLARD_SEQUENCES = {"keyseq": "+", "guiseq": " ▸ "}


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def mallard_blocks(path):
    """The text blocks of a Mallard page in document order: every p/title/subtitle/desc
    outside <info> (translator credits differ by language), <code> and <screen>. A block's text
    includes its inline elements (<gui>, <link>, <em>, ...)."""
    out = []

    def text_of(el):
        joiner = MALLARD_SEQUENCES.get(local(el.tag))
        if joiner is not None:  # <keyseq><key>Ctrl</key><key>H</key></keyseq>: "Ctrl+H"
            return joiner.join(text_of(c).strip() for c in el if local(c.tag) not in MALLARD_SKIP)
        parts = [el.text or ""]
        for child in el:
            if local(child.tag) not in MALLARD_SKIP:
                parts.append(text_of(child))
            parts.append(child.tail or "")
        return "".join(parts)

    def visit(el):
        name = local(el.tag)
        if name in MALLARD_SKIP:
            return
        if name in MALLARD_BLOCKS:
            out.append(clean_text(text_of(el)))
            return
        for child in el:
            visit(child)

    visit(ET.parse(path).getroot())
    return out


def aligned_pages(en_root, de_root, suffix, blocks, source, stats):
    """(English, German, origin) blocks of the pages ending in suffix under en_root that have a
    German twin under de_root with as many blocks (paired_blocks); origin "<source>:<page>#<block>"."""
    for en_path in walk_sorted(en_root):
        if not en_path.endswith(suffix):
            continue
        rel = os.path.relpath(en_path, en_root)
        stats["pages"] = stats.get("pages", 0) + 1
        de_path = os.path.join(de_root, rel)
        pairs = paired_blocks(blocks(en_path), blocks(de_path)) if os.path.exists(de_path) else None
        if pairs is None:
            stats["pages not aligned"] = stats.get("pages not aligned", 0) + 1
            continue
        for i, (en, de) in enumerate(pairs):
            yield en, de, "%s:%s#%d" % (source, rel.replace(os.sep, "/"), i)


def read_gnome_help(root, stats):
    """(English, German, origin) blocks of usr/share/help/{C,de}/*/*.page; origin is
    "gnome-user-docs:<document>/<page>#<block>"."""
    help_root = os.path.join(root, "usr", "share", "help")
    return aligned_pages(os.path.join(help_root, "C"), os.path.join(help_root, "de"), ".page", mallard_blocks,
                         "gnome-user-docs", stats)


class PublicanBlocks(html.parser.HTMLParser):
    """The text blocks of a Publican (DocBook) HTML page in document order: elements of class
    "para"/"simpara", headings h1-h6 and table cells. Text in <pre> (commands, files) or in the
    page's <head> is not read. A block that contains another block (a paragraph holding a list
    whose items are paragraphs) is cut there: its text before and after the inner block are two
    blocks, so that no block runs text of different places together."""

    BLOCK_CLASSES = {"para", "simpara"}
    BLOCK_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "td", "th"}
    SKIP_TAGS = {"pre", "head", "script", "style"}
    VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                 "param", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, opens a block, skips its content), innermost last
        self.blocks = []  # lists of text pieces
        self.current = []  # index into blocks of each open block, innermost last

    def skipping(self):
        return any(skip for _, _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID_TAGS:
            if tag == "br":
                self.handle_data(" ")
            return
        classes = set((dict(attrs).get("class") or "").split())
        block = tag in self.BLOCK_TAGS or bool(classes & self.BLOCK_CLASSES)
        block = block and not self.skipping()
        self.stack.append((tag, block, tag in self.SKIP_TAGS))
        if block:
            self.blocks.append([])
            self.current.append(len(self.blocks) - 1)

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag in self.VOID_TAGS:
            return
        # Pop to the matching element; a stray end tag without a match is ignored.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, block, _ in reversed(self.stack[i:]):
                    if block:
                        self.current.pop()
                        if self.current:  # the enclosing block goes on as a new block
                            self.blocks.append([])
                            self.current[-1] = len(self.blocks) - 1
                del self.stack[i:]
                return

    def handle_data(self, data):
        if self.current and not self.skipping():
            self.blocks[self.current[-1]].append(data)


def publican_blocks(path):
    parser = PublicanBlocks()
    with open(path, encoding="utf-8") as f:
        parser.feed(f.read())
    parser.close()
    return [clean_text("".join(pieces)) for pieces in parser.blocks]


def read_handbook(root, stats):
    """(English, German, origin) blocks of the handbook's HTML in en-US and de-DE; origin is
    "debian-handbook:<page>#<block>"."""
    html_root = os.path.join(root, "usr", "share", "doc", "debian-handbook", "html")
    return aligned_pages(os.path.join(html_root, "en-US"), os.path.join(html_root, "de-DE"), ".html", publican_blocks,
                         "debian-handbook", stats)
