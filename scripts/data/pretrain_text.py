"""Text rules of the en->de pretraining corpus (scripts/data/pretrain.py): cleaning a gettext
message or a documentation paragraph into plain text, the filters that drop unusable pairs, the
normalized English key used for deduplication and for the leakage check, and the sentence
splitter for documentation paragraphs. Pure functions, standard library only."""

import html
import re

from build_corpora import clean_text, n_words

MIN_WORDS, MAX_WORDS = 3, 40  # English words per pair
MAX_LENGTH_RATIO = 3.0  # characters; as for the LibreOffice help (build_corpora.py)

# Placeholders a model cannot learn to translate and that make no sentence: printf conversions
# (%s, %d, %1$s, %-10.3f, gcc's %qs, %<...%>, Qt's %1, Python's %(name)s), brace fields ({0},
# {name}, %{x}), shell-style variables (${x}, $(x), $VAR, $1) and @NAME@ substitutions. A percent
# sign followed by a space or punctuation ("100% sure", "100 %.") is text.
PLACEHOLDER = re.compile(r"%(?![\s.,;:!?)\]\"'»“”]|$)"  # printf, Qt, Python %
                         r"|\{[^{}]*\}|\$[{(A-Za-z0-9_]|@[A-Za-z_]+@")
# Formatting tags (Pango, Qt rich text, HTML) whose content is ordinary text: removed, the text
# kept. Any other tag (<file>, <filename>, <number>: placeholders or structure) drops the pair.
FORMAT_TAGS = {"a", "b", "big", "body", "br", "code", "em", "font", "html", "i", "nobr", "p", "qt",
               "s", "small", "span", "strong", "sub", "sup", "tt", "u"}
TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)(?:\s[^<>]*)?/?>")
ENTITY = re.compile(r"&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);")
# Menu accelerators: "_Open" (GTK), "&Open" (Qt, KDE; "&&" is a literal "&"), "~Open"
# (LibreOffice). Only a marker directly before a letter or digit is one.
UNDERSCORE_MNEMONIC = re.compile(r"_(?=\w)")
AMPERSAND_MNEMONIC = re.compile(r"&(?=\w)")
TILDE_MNEMONIC = re.compile(r"~(?=\w)")
LETTER = re.compile(r"[^\W\d_]")


def strip_markup(s):
    """(text, ok): formatting tags removed and entities decoded; ok is False when a tag that is
    not pure formatting is present."""
    ok = all(m.group(1).lower() in FORMAT_TAGS for m in TAG.finditer(s))
    s = TAG.sub(lambda m: " " if m.group(1).lower() in ("br", "p") else "", s)
    return html.unescape(s), ok


def strip_mnemonics(s):
    """(text, ok): accelerator markers removed. A message with two or more underscores before
    letters is an identifier list or code (snake_case), not a label: ok is False."""
    if len(UNDERSCORE_MNEMONIC.findall(s)) > 1:
        return s, False
    s = UNDERSCORE_MNEMONIC.sub("", s)
    s = AMPERSAND_MNEMONIC.sub("", s.replace("&&", "\x00")).replace("\x00", "&")
    return TILDE_MNEMONIC.sub("", s), True


def clean_message(s):
    """(text, reason): a gettext message as plain text on one line, or (None, why it is
    dropped). Markup strings (a tag or an entity) are de-tagged; others lose their mnemonics
    (markup strings use GTK's "_", which markup does not contain)."""
    if PLACEHOLDER.search(s):
        return None, "placeholder"
    if TAG.search(s) or ENTITY.search(s):
        s, ok = strip_markup(s)
        if not ok:
            return None, "markup"
        if PLACEHOLDER.search(s):  # an entity may have hidden one (&#37;s)
            return None, "placeholder"
    s, ok = strip_mnemonics(s)
    if not ok:
        return None, "identifier"
    return clean_text(s), None


def pair_problem(en, de):
    """Why the cleaned pair (en, de) is not kept, or None: its English length, an empty or
    untranslated German side, no letters, or implausible lengths."""
    if not de or not LETTER.search(en) or not LETTER.search(de):
        return "empty"
    if not MIN_WORDS <= n_words(en) <= MAX_WORDS:
        return "length"
    if en == de:
        return "untranslated"
    if max(len(en), len(de)) > MAX_LENGTH_RATIO * min(len(en), len(de)):
        return "ratio"
    return None


def english_key(s):
    """The normalized English side: case-folded letters and digits, one space between words.
    "Save the file." and "save the file" are the same sentence for deduplication and for the
    leakage check against the held-out splits."""
    return " ".join(re.sub(r"[\W_]+", " ", s.casefold()).split())


# Sentence ends in documentation paragraphs: . ! ? (optionally with a closing quote or
# bracket), then white space, then what starts a sentence. A full stop after one of these
# abbreviations, a single letter (initials, "z. B.") or a number ("1. Januar") ends nothing.
SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"'”’»)]?\s+(?=[\"'“„»(]?[A-ZÄÖÜ0-9])")
ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "dr", "mr", "mrs", "ms", "no", "nr", "bzw",
                 "ca", "usw", "vgl", "ggf", "evtl", "inkl", "bspw", "sog", "z.b", "d.h", "u.a",
                 "o.ä", "s", "st", "fig", "abb", "ff", "sec", "approx"}


def split_sentences(s):
    """The sentences of a paragraph (s itself if it has only one)."""
    out, start = [], 0
    for m in SENTENCE_BREAK.finditer(s):
        head = s[start:m.start()].rstrip("\"'”’»)")
        last = head.split()[-1].rstrip(".!?").casefold() if head.split() else ""
        if last in ABBREVIATIONS or len(last) <= 1 or last.isdigit():
            continue
        out.append(s[start:m.start()].strip())
        start = m.end()
    out.append(s[start:].strip())
    return [x for x in out if x]


def sentence_pairs(en, de):
    """Documentation paragraph pair -> [(en, de, part)]: sentence by sentence when both sides
    have the same number of sentences and every sentence pair has plausible lengths (part is
    1, 2, ...), else the whole paragraph (part 0)."""
    es, ds = split_sentences(en), split_sentences(de)
    if len(es) > 1 and len(es) == len(ds) and all(
            max(len(a), len(b)) <= 2.0 * min(len(a), len(b)) for a, b in zip(es, ds)):
        return [(a, b, i + 1) for i, (a, b) in enumerate(zip(es, ds))]
    return [(en, de, 0)]
