#!/usr/bin/env python3
"""Builds proact's parallel corpora from files extracted out of Debian packages.

Called by scripts/fetch-data.sh, which downloads and unpacks the packages; this script only
reads local files, so it is deterministic: the same package versions give byte-identical output.
Standard library only.

Subcommands
  libreoffice EN_ROOT DE_ROOT OUT   LibreOffice help en->de, aligned by (file, paragraph id)
  ding DE_EN_FILE OUT               Ding example sentences, en->de
  bible WEB_IMP RV_IMP OUT          World English Bible -> Reina-Valera 1909, aligned by verse
  fixture DATA FIXTURE_DIR          the small in-repository fixture, cut from DATA's corpora
  counts DATA                       table of pairs and words per corpus and split

Every corpus directory gets {train,valid,test}.tsv (source TAB target, one pair per line) and
{train,valid,test}.ref (where each pair came from, line for line).
(docs/data.md describes the sources themselves.)
"""

import hashlib
import html
import html.parser
import math
import os
import re
import sys
import unicodedata

SPLITS = ("train", "valid", "test")

# ---------------------------------------------------------------------------------------------
# Shared helpers


def clean_text(s):
    """Plain text on one line: NFC, no soft hyphens or zero-width characters, every run of
    white space (including no-break spaces, tabs and newlines) collapsed to one space."""
    s = unicodedata.normalize("NFC", s)
    s = re.sub("[\u00ad\u200b\u200c\u200d\u2060\ufeff]", "", s)
    s = re.sub(r"\s+", " ", s)  # \s covers U+00A0, U+202F and friends in str patterns
    return s.strip()


def n_words(s):
    return len(s.split())


def stable_bucket(text, buckets=100):
    """A number in [0, buckets) from SHA-256 of the text: stable across runs, Python versions
    and machines (unlike hash())."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % buckets


def write_split(out_dir, split, rows):
    """rows: (source, target, ref). Writes split.tsv and split.ref with LF line ends."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, split + ".tsv"), "w", encoding="utf-8", newline="\n") as f:
        for src, tgt, _ in rows:
            assert "\t" not in src + tgt and "\n" not in src + tgt and src and tgt
            f.write(src + "\t" + tgt + "\n")
    with open(os.path.join(out_dir, split + ".ref"), "w", encoding="utf-8", newline="\n") as f:
        for _, _, ref in rows:
            f.write(ref + "\n")


def read_split(corpus_dir, split):
    """Returns [(source, target, ref)] as written by write_split."""
    with open(os.path.join(corpus_dir, split + ".tsv"), encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f]
    with open(os.path.join(corpus_dir, split + ".ref"), encoding="utf-8") as f:
        refs = [line.rstrip("\n") for line in f]
    assert len(pairs) == len(refs), corpus_dir + "/" + split
    return [(s, t, r) for (s, t), r in zip(pairs, refs)]


def dedupe(rows):
    """Drops repeated (source, target) pairs, keeping the first occurrence."""
    seen, out = set(), []
    for src, tgt, ref in rows:
        if (src, tgt) not in seen:
            seen.add((src, tgt))
            out.append((src, tgt, ref))
    return out


def remove_leaks(splits):
    """No English sentence may be in two splits: a sentence of the test set is removed from
    valid and train, one of the valid set from train. (LibreOffice pages embed shared
    paragraphs, so the same sentence can occur under several modules.)"""
    test_src = {s for s, _, _ in splits["test"]}
    splits["valid"] = [r for r in splits["valid"] if r[0] not in test_src]
    held = test_src | {s for s, _, _ in splits["valid"]}
    splits["train"] = [r for r in splits["train"] if r[0] not in held]
    return splits


def report(name, splits):
    sizes = ", ".join("%s %d" % (k, len(splits[k])) for k in SPLITS)
    print("  %s: %s" % (name, sizes), file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# LibreOffice help: usr/share/libreoffice/help/<lang>/text/<module>/.../*.html
#
# Every translatable paragraph is an element (<p>, <h1>..<h6>, ...) whose id starts with
# par_id / hd_id; the id is the same in every language because all pages are generated from one
# set of .xhp sources. Pages show system- and application-specific variants through
# "switch"/"switchinline" spans whose cases are all hidden="true"; the help's JavaScript reveals
# the case matching the user's platform (class MAC, WIN, UNIX) or application (WRITER, CALC,
# ...), falling back to the case whose id starts with "default". So:
# - inside a paragraph, only the default case is read: reading every case would glue the
#   variants together ("LibreOffice - Preferences Tools - Options - ...");
# - a paragraph that is itself inside a case is a whole unit of text; it is kept for an
#   application case (help shown in Calc, say) and skipped for a platform case (MAC, WIN, UNIX),
#   as text meant for one operating system only.

PARAGRAPH_ID = re.compile(r"^(par_id|hd_id)")
SWITCH_CLASSES = {"switch", "switchinline"}
PLATFORM_CASES = {"MAC", "WIN", "UNIX"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "param", "source", "track", "wbr"}
NO_TEXT_TAGS = {"head", "script", "style", "noscript", "title"}


class HelpPageParser(html.parser.HTMLParser):
    """Collects (paragraph id, raw text) for every par_id/hd_id element of one help page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        # Open elements: {"tag", "drops" (its text is not read by enclosing paragraphs),
        # "platform" (a platform case: nothing inside is read), "collector" (paragraph index
        # or None), "switch" (its children are cases)}.
        self.stack = []
        self.paragraphs = []   # [id, list of text pieces]

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            if tag == "br":
                self.handle_data(" ")  # a line break separates words
            return  # no content; <img alt=...> text is deliberately not read
        a = dict(attrs)
        el_id = a.get("id") or ""
        classes = set((a.get("class") or "").split())
        # A case of a switch other than the default one.
        case = bool(self.stack) and self.stack[-1]["switch"] and not el_id.startswith("default")
        entry = {"tag": tag, "drops": case or tag in NO_TEXT_TAGS,
                 "platform": case and bool(classes & PLATFORM_CASES),
                 "collector": None, "switch": bool(classes & SWITCH_CLASSES)}
        if PARAGRAPH_ID.match(el_id) and not any(e["platform"] or e["tag"] in NO_TEXT_TAGS
                                                 for e in self.stack):
            entry["collector"] = len(self.paragraphs)
            self.paragraphs.append([el_id, []])
        self.stack.append(entry)

    def handle_startendtag(self, tag, attrs):
        pass  # <x/> has no text; also keeps self-closed elements off the stack

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        # Pop to the matching element; a stray end tag without a match is ignored.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        # The text belongs to the innermost paragraph, unless a skipped case (or <script> ...)
        # lies between that paragraph and the text.
        for e in reversed(self.stack):
            if e["collector"] is not None:
                self.paragraphs[e["collector"]][1].append(data)
                return
            if e["drops"]:
                return


def help_paragraphs(path):
    """{(id, occurrence): text} of one page. An id may repeat within a page (embedded
    snippets); the occurrence number keeps the repeats apart."""
    parser = HelpPageParser()
    with open(path, encoding="utf-8") as f:
        parser.feed(f.read())
    parser.close()
    out, seen = {}, {}
    for pid, pieces in parser.paragraphs:
        k = seen.get(pid, 0)
        seen[pid] = k + 1
        out[(pid, k)] = clean_text("".join(pieces))
    return out


def help_pages(root):
    """Relative paths (text/<module>/...html) of every page under root, sorted."""
    pages = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "text")):
        dirnames.sort()
        for fn in filenames:
            if fn.endswith(".html"):
                pages.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return sorted(pages)


def help_module(rel_path):
    """text/scalc/01/x.html -> scalc; the module decides the split."""
    parts = rel_path.split(os.sep)
    return parts[1] if len(parts) > 2 else "text"


LO_TEST_MODULES = {"simpress"}  # held out (docs/design.md §7: test = text/simpress)
LO_VALID_MODULES = {"sdatabase"}  # small (about 1,000 pairs) and self-contained: Base
LO_MIN_WORDS, LO_MAX_WORDS = 3, 40
# Some German paragraphs were not updated when the English was rewritten and now say something
# else ("Exits current mode." -> three sentences about selection modes; "LastInterest is the last
# interest date of the security." -> "2"). One side more than 3 times the other's length in
# characters catches the worst of them (about 60 pairs); German is typically 1.1 times longer.
LO_MAX_LENGTH_RATIO = 3.0


def build_libreoffice(en_root, de_root, out_dir):
    splits = {k: [] for k in SPLITS}
    stats = {"pages": 0, "no_de_page": 0, "no_de_par": 0, "id_count_differs": 0,
             "length_ratio": 0}
    for rel in help_pages(en_root):
        stats["pages"] += 1
        de_path = os.path.join(de_root, rel)
        if not os.path.exists(de_path):
            stats["no_de_page"] += 1
            continue
        en, de = help_paragraphs(os.path.join(en_root, rel)), help_paragraphs(de_path)
        # A repeated id is paired occurrence by occurrence only if it repeats equally often.
        en_n = {}
        for pid, k in en:
            en_n[pid] = max(en_n.get(pid, 0), k + 1)
        de_n = {}
        for pid, k in de:
            de_n[pid] = max(de_n.get(pid, 0), k + 1)
        module = help_module(rel)
        split = ("test" if module in LO_TEST_MODULES else
                 "valid" if module in LO_VALID_MODULES else "train")
        for (pid, k), src in en.items():  # dicts keep document order
            if (pid, k) not in de:
                stats["no_de_par"] += 1
                continue
            if en_n[pid] != de_n.get(pid):
                stats["id_count_differs"] += 1
                continue
            tgt = de[(pid, k)]
            if not src or not tgt or src == tgt:
                continue  # empty, or untranslated (code, product names, numbers)
            if not LO_MIN_WORDS <= n_words(src) <= LO_MAX_WORDS:
                continue
            if max(len(src), len(tgt)) > LO_MAX_LENGTH_RATIO * min(len(src), len(tgt)):
                stats["length_ratio"] += 1
                continue
            ref = rel.replace(os.sep, "/") + "#" + pid + ("" if k == 0 else "@%d" % k)
            splits[split].append((src, tgt, ref))
    for k in SPLITS:
        splits[k] = dedupe(splits[k])
    splits = remove_leaks(splits)
    for k in SPLITS:
        write_split(out_dir, k, splits[k])
    print("  libreoffice: %(pages)d pages, %(no_de_page)d without a German page, "
          "%(no_de_par)d paragraphs without a German twin, %(id_count_differs)d with an id "
          "repeated unequally, %(length_ratio)d dropped for implausible lengths" % stats,
          file=sys.stderr)
    report("libreoffice-en-de", splits)


# ---------------------------------------------------------------------------------------------
# Ding (usr/share/trans/de-en of trans-de-en): one entry per line, "German :: English".
# Each side holds sub-entries separated by " | ", aligned one to one (the k-th German
# sub-entry translates the k-th English one); within a sub-entry, "; " separates synonyms.
# Most sub-entries are dictionary headwords; the example sentences are the ones we want.

DING_MIN_WORDS, DING_MAX_WORDS = 4, 40
# Markers of a dictionary phrase rather than a sentence ("to ask sb. for sth.", "etw. tun"),
# of grammar tags ({f}, {v}) and of placeholders ("The name … was mentioned").
DING_PHRASE_MARKERS = re.compile(r"\b(sth|sb|etw|jd[nmrs]?)\.|[{}]|…|\.\.\.")
SENTENCE_END = re.compile(r"[.!?][\"”’»«]?$")
SENTENCE_START = re.compile(r"^[\"“„‚‘»«¡¿]?[A-ZÄÖÜ0-9]")


def ding_strip_annotations(s):
    """Removes Ding's annotations and optional words from an example sentence:
    - [Br.], [ugs.], [Ös.] ...: usage labels, not text;
    - "(word)" standing alone: optional words or explanations ("He charged (at) the matador."),
      dropped, because the other side usually translates the sentence without them;
    - "aus(verkauft)" attached to a word: an optional word part, kept without the brackets.
    """
    s = re.sub(r"\s*\[[^\]]*\]", "", s)
    s = re.sub(r"(?<=\w)\(([^()]*)\)", r"\1", s)     # attached: keep the letters
    s = re.sub(r"\s*\([^()]*\)", "", s)              # standalone: drop
    s = re.sub(r"\s+([,.;:!?])", r"\1", s)           # space left before punctuation
    return clean_text(s)


def ding_has_alternatives(s):
    """True if a slash offers alternatives ("fair/rough idea", "die Abiturienten / Maturanten").
    We drop such sentences instead of keeping the first alternative: the extent of an
    alternative is not marked ("in eine schwierige Lage / in die Bredouille gebracht" replaces a
    phrase, "fair/rough" a word), so "keep the first" would garble part of them. Slashes between
    digits (dates, fractions: "24/7", "1/2") are not alternatives and are kept."""
    return re.search(r"(?<!\d)/|/(?!\d)", s) is not None


def ding_sentence(s):
    """The example sentence in one Ding sub-entry, or None if it is not a clean sentence.
    Of several synonymous sentences ("Er ist nur ein Kind.; Er ist (doch) noch ein Kind.") the
    first is taken; Ding lists the closest translations first on both sides."""
    s = s.split("; ")[0].strip()
    # A stray full stop after the end mark is a typo in the source ("I hope it helps!.",
    # "ashore.."); mid-entry it stands for "; " ("Stop joking!. Quit joking!").
    s = re.split(r"(?<=[.!?])\.\s", s)[0]
    s = re.sub(r"(?<=[.!?])\.$", "", s)
    if DING_PHRASE_MARKERS.search(s) or ding_has_alternatives(s):
        return None
    s = ding_strip_annotations(s)
    if not SENTENCE_END.search(s) or not SENTENCE_START.search(s):
        return None
    return s


def build_ding(path, out_dir):
    rows = []
    misaligned = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#") or " :: " not in line:
                continue
            de_side, en_side = line.split(" :: ", 1)
            de_subs, en_subs = de_side.split(" | "), en_side.split(" | ")
            if len(de_subs) != len(en_subs):
                misaligned += 1  # cannot tell which sub-entries correspond
                continue
            for k, (de_raw, en_raw) in enumerate(zip(de_subs, en_subs)):
                de, en = ding_sentence(de_raw), ding_sentence(en_raw)
                if de is None or en is None or de == en:
                    continue
                if not DING_MIN_WORDS <= n_words(en) <= DING_MAX_WORDS:
                    continue
                rows.append((en, de, "de-en:%d|%d" % (lineno, k)))
    rows = dedupe(rows)
    # The split depends on the English side only, so all translations of one English sentence
    # land in the same split: test is bucket < 5, valid 5..9, train the rest.
    splits = {k: [] for k in SPLITS}
    for r in rows:
        b = stable_bucket(r[0])
        splits["test" if b < 5 else "valid" if b < 10 else "train"].append(r)
    for k in SPLITS:
        write_split(out_dir, k, splits[k])
    if misaligned:
        print("  ding: %d entries with unequal numbers of sub-entries skipped" % misaligned,
              file=sys.stderr)
    report("ding-en-de", splits)


# ---------------------------------------------------------------------------------------------
# Bibles: the .imp export of mod2imp is a sequence of "$$$Book Chapter:Verse" lines, each
# followed by the raw OSIS text of that verse (words wrapped in <w lemma="strong:...">, notes,
# headings, poetry milestones).

BIBLE_TEST_BOOKS = {"John"}
BIBLE_VALID_BOOKS = {"Ruth"}  # short narrative (85 verses), like the Gospel held out for test
BIBLE_REF = re.compile(r"^(.+) (\d+):(\d+)$")


def read_imp(path):
    """[(book, chapter, verse, raw OSIS)] in module order; headings without a verse
    reference ([ Module Heading ] ...) are skipped."""
    entries, ref, buf = [], None, []

    def flush():
        if ref:
            m = BIBLE_REF.match(ref)
            if m:
                entries.append((m.group(1), int(m.group(2)), int(m.group(3)), "\n".join(buf)))

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("$$$"):
                flush()
                ref, buf = line[3:], []
            else:
                buf.append(line)
    flush()
    return entries


ENCLITICS = "lo|la|le|los|las|les|me|te|se|nos|os"  # Spanish object pronouns
NOTE_MARK = "\x00"  # where a note was, until we know whether it separated two words


def osis_to_text(raw):
    """Plain verse text from an OSIS fragment.
    - Anything after the end of the book (<div ... eID=... type="book"/>) is back matter that
      the module attaches to the last verse (the WEB's glossary after Revelation 22:21).
    - <note> (footnotes, cross references) is removed with its content; where it stood between
      two words it leaves a space ("God<note>...</note>created"), elsewhere nothing
      ("descendants<note>...</note>”,").
    - <title canonical="true"> (Psalm superscriptions) is scripture: kept, because the
      Reina-Valera has it as ordinary text at the start of verse 1; other titles are section
      headings added by the editors and are removed, as are <speaker> labels (Song of Songs).
    - Word-level markup (<w>, <transChange>, <q>, <divineName> ...) is removed but its text
      kept, without adding space ("“<w>Send</w>" -> "“Send"); structural milestones (<l/>,
      <lb/>, <div/>, <chapter/>) become a space.
    - The RV1909 sometimes lacks the space around words the translators added
      (<transChange type="added">): "y díjo</w><transChange ...>le</transChange><w ...>Dios"
      would read "díjoleDios". An added word is a word of its own, except an enclitic pronoun
      joined to the verb before it ("díjole", "repartiéronlo").
    """
    raw = re.sub(r"</transChange>(?=<w\b)", "</transChange> ", raw)
    raw = re.sub(r"</w>(?=<transChange\b[^>]*>(?!(?:%s)<))" % ENCLITICS, "</w> ", raw)
    raw = re.split(r'<div\b[^>]*\beID="[^"]*"[^>]*\btype="book"[^>]*/>', raw)[0]
    raw = re.sub(r"<note\b[^>]*/>", NOTE_MARK, raw)
    raw = re.sub(r"<note\b.*?</note>", NOTE_MARK, raw, flags=re.S)
    raw = re.sub(r'<title\b[^>]*canonical="true"[^>]*>(.*?)</title>', r" \1 ", raw, flags=re.S)
    raw = re.sub(r"<title\b.*?</title>", " ", raw, flags=re.S)
    raw = re.sub(r"<speaker\b.*?</speaker>", " ", raw, flags=re.S)
    inline = r"w|transChange|q|divineName|hi|foreign|name|seg|rdg|catchWord|inscription|add"
    raw = re.sub(r"</?(?:%s)\b[^>]*>" % inline, "", raw)
    raw = re.sub(r"<[^>]*>", " ", raw)
    raw = re.sub(r"(?<=\w)%s+(?=\w)" % NOTE_MARK, " ", raw).replace(NOTE_MARK, "")
    text = clean_text(html.unescape(raw))
    text = re.sub(r" ([,.;:!?])", r"\1", text)  # space left by a milestone before punctuation
    # The WEB sometimes lacks the space outside a quotation mark next to a note or a <q>
    # boundary ("the Omega,”says the Lord God,“who is"): put it back.
    text = re.sub(r"”(?=\w)", "” ", text)
    return re.sub(r"(?<=[\w,;:.!?])“", " “", text)


# Verse alignment. The two modules declare different versifications (WEB: NRSVA, RV1909: KJV),
# and the RV1909 text was fitted into KJV references imperfectly: in some chapters its verses
# follow the Hebrew numbering, shifted by one or more against the reference (Numbers 13,
# 1 Samuel 24, Job 39-40, Jonah 2, ...), or two verses are merged and one left empty. The
# RV1909 also keeps Textus Receptus readings the WEB lacks (1 John 5:7) and appends the
# traditional subscriptions to the epistles ("... Amén. Fué escrita á los Hebreos desde Italia
# con Timoteo."). Pairing blindly by reference would put all of these in the data as
# translations. So within each chapter we align the non-empty verses by dynamic programming
# (as Gale & Church 1993) scoring each candidate pair by its lengths and by lexical evidence,
# with a strong prior for the pairing by reference, and keep only the verses that the alignment
# pairs one-to-one at the same reference.
#
# Lexical evidence: the RV1909 tags its words with Strong's numbers (the Hebrew/Greek word
# they translate). The WEB tags its words too, which gives a small dictionary from each Strong's
# number to the English words that render it. A Spanish verse is then well matched by an English
# verse that contains the English renderings of most of its Strong's numbers. (We do not compare
# the two sets of Strong's numbers directly: in ~90 Old Testament chapters whose Hebrew
# numbering differs, such as Genesis 32 and the Psalms with titles, the WEB's tags are attached
# to the wrong verse although its text is right.)

STRONG = re.compile(r"^([HG])0*(\d+)")
LEX_WORD = re.compile(r"[a-z]+(?:[’'][a-z]+)?")


def strongs_numbers(raw):
    """Set of Strong's numbers ("H430", "G2316") in an OSIS fragment."""
    out = set()
    for lemma in re.findall(r'lemma="([^"]*)"', raw):
        for tok in lemma.replace("strong:", " ").split():
            m = STRONG.match(tok)
            if m:
                out.add(m.group(1) + m.group(2))
    return out


def english_words(text):
    return set(LEX_WORD.findall(text.lower()))


def strongs_dictionary(web_entries, web_text):
    """{Strong's number: set of English words} from the WEB's <w lemma="strong:..."> tags.
    A number keeps the words that carry at least 10% of its occurrences (at most 8), minus the
    100 most frequent English words (function words: too common to be evidence)."""
    counts, freq = {}, {}
    for key, raw in web_entries.items():
        for lemma, inner in re.findall(r'<w\b[^>]*\blemma="([^"]*)"[^>]*>([^<]*)</w>', raw):
            ws = LEX_WORD.findall(inner.lower())
            for tok in lemma.replace("strong:", " ").split():
                m = STRONG.match(tok)
                if m:
                    c = counts.setdefault(m.group(1) + m.group(2), {})
                    for w in ws:
                        c[w] = c.get(w, 0) + 1
        for w in LEX_WORD.findall(web_text[key].lower()):
            freq[w] = freq.get(w, 0) + 1
    stop = {w for w, _ in sorted(freq.items(), key=lambda x: (-x[1], x[0]))[:100]}
    lexicon = {}
    for number, c in counts.items():
        total = sum(c.values())
        top = sorted(c.items(), key=lambda x: (-x[1], x[0]))[:8]
        words = {w for w, n in top if n >= 0.1 * total and w not in stop}
        if words:
            lexicon[number] = words
    return lexicon


class VerseScorer:
    """Costs (-log probabilities, lower is better) of pairing English and Spanish verses."""

    PRIORS = {
        "same": -math.log(0.90),   # 1-1 at the same reference
        "shift": -math.log(0.02),  # 1-1 at different references (inside a shifted stretch)
        "skip": -math.log(0.01),   # a verse left unpaired
        "merge": -math.log(0.02),  # two verses against one
    }

    def __init__(self, en_text, es_text, lexicon, es_strongs, c, s2):
        """lexicon: {Strong's number: English words}; es_strongs: {verse: Strong's numbers
        of the Spanish verse that are in the lexicon}."""
        self.en_text, self.es_text = en_text, es_text
        self.lexicon, self.es_strongs = lexicon, es_strongs
        self.en_words = {k: english_words(t) for k, t in en_text.items()}
        self.c, self.s2 = c, s2

    def length_cost(self, en_keys, es_keys):
        """Gale & Church: -log P(|delta|), delta the normalised length difference."""
        ls = sum(len(self.en_text[k]) for k in en_keys)
        lt = sum(len(self.es_text[k]) for k in es_keys)
        delta = (lt - self.c * ls) / math.sqrt(max(ls, 1) * self.s2)
        return -math.log(max(math.erfc(abs(delta) / math.sqrt(2)), 1e-300))

    def coverage(self, en_keys, es_keys):
        """Fraction of the Spanish side's Strong's numbers whose English renderings occur on the
        English side, or None with fewer than two usable numbers (no evidence either way)."""
        numbers = [n for k in es_keys for n in self.es_strongs[k]]
        if len(numbers) < 2:
            return None
        words = set().union(*(self.en_words[k] for k in en_keys))
        return sum(1 for n in numbers if not self.lexicon[n].isdisjoint(words)) / len(numbers)

    def lexical_cost(self, en_keys, es_keys):
        """About minus the log-likelihood ratio of aligned vs. neighbouring verses, measured on
        this corpus: coverage 0.5 is neutral, 0.9 strong evidence for, 0.1 strong against."""
        cov = self.coverage(en_keys, es_keys)
        return 0.0 if cov is None else 4.5 * (1.0 - 2.0 * cov)

    def pair_cost(self, en_keys, es_keys):
        return self.length_cost(en_keys, es_keys) + self.lexical_cost(en_keys, es_keys)


ALIGN_BAND = 8  # verse numbers are never shifted by more than this within a chapter


def align_chapter(en_keys, es_keys, scorer):
    """en_keys, es_keys: the chapter's non-empty verses (book, chapter, verse) on each side.
    Returns the set of verses that the best alignment pairs 1-1 at the same reference."""
    n, m = len(en_keys), len(es_keys)
    band = ALIGN_BAND + abs(n - m)
    P = VerseScorer.PRIORS
    cost, back = {(0, 0): 0.0}, {}
    for i in range(n + 1):
        for j in range(max(0, i - band), min(m, i + band) + 1):
            if i == 0 and j == 0:
                continue
            options = []  # (cost, step); on ties min() takes the first listed, deterministically

            def step(di, dj, extra):
                prev = (i - di, j - dj)
                if prev in cost:
                    options.append((cost[prev] + extra(), (di, dj)))

            if i and j:
                same = en_keys[i - 1] == es_keys[j - 1]
                step(1, 1, lambda: P["same" if same else "shift"] +
                     scorer.pair_cost(en_keys[i - 1:i], es_keys[j - 1:j]))
            if i:
                step(1, 0, lambda: P["skip"])
            if j:
                step(0, 1, lambda: P["skip"])
            if i >= 2 and j:
                step(2, 1, lambda: P["merge"] +
                     scorer.pair_cost(en_keys[i - 2:i], es_keys[j - 1:j]))
            if i and j >= 2:
                step(1, 2, lambda: P["merge"] +
                     scorer.pair_cost(en_keys[i - 1:i], es_keys[j - 2:j]))
            if options:
                cost[(i, j)], back[(i, j)] = min(options)
    kept, i, j = set(), n, m
    while i or j:
        di, dj = back[(i, j)]
        if (di, dj) == (1, 1) and en_keys[i - 1] == es_keys[j - 1]:
            kept.add(en_keys[i - 1])
        i, j = i - di, j - dj
    return kept


def length_model(pairs):
    """(c, s2): Spanish characters per English character (median ratio) and the variance per
    English character of the length difference (mean square), from the pairing by reference."""
    ratios = sorted(len(t) / len(s) for s, t in pairs)
    c = ratios[len(ratios) // 2]
    s2 = sum((len(t) - c * len(s)) ** 2 / len(s) for s, t in pairs) / len(pairs)
    return c, s2


def build_bible(web_imp, rv_imp, out_dir):
    web_raw = {(b, ch, v): raw for b, ch, v, raw in read_imp(web_imp)}
    rv_entries = read_imp(rv_imp)
    rv_raw = {(b, ch, v): raw for b, ch, v, raw in rv_entries}
    en = {k: osis_to_text(raw) for k, raw in web_raw.items()}
    es = {k: osis_to_text(raw) for k, raw in rv_raw.items()}
    # Module order of the Spanish: the 66 books both have (the WEB's deuterocanon has no
    # counterpart); verse 0 (book and chapter introductions) excluded.
    order = [k for k in ((b, ch, v) for b, ch, v, _ in rv_entries) if k[2] > 0 and k in en]
    c, s2 = length_model([(en[k], es[k]) for k in order if en[k] and es[k]])
    lexicon = strongs_dictionary(web_raw, en)
    scorer = VerseScorer({k: en[k] for k in order}, es, lexicon,
                         {k: [n for n in sorted(strongs_numbers(rv_raw[k])) if n in lexicon]
                          for k in order}, c, s2)
    chapters = {}
    for k in order:
        chapters.setdefault(k[:2], []).append(k)
    stats = {"one_side_empty": 0, "misaligned": 0}
    splits = {s: [] for s in SPLITS}
    for (book, ch), keys in chapters.items():
        kept = align_chapter([k for k in keys if en[k]], [k for k in keys if es[k]], scorer)
        split = ("test" if book in BIBLE_TEST_BOOKS else
                 "valid" if book in BIBLE_VALID_BOOKS else "train")
        for k in keys:
            if not en[k] or not es[k]:
                stats["one_side_empty"] += 1
            elif k not in kept:
                stats["misaligned"] += 1
            else:
                splits[split].append((en[k], es[k], "%s %d:%d" % k))
    for k in SPLITS:
        write_split(out_dir, k, splits[k])
    print("  bible: %d verses in both; dropped %d empty on one side and %d that the alignment "
          "does not pair at the same reference (length model c=%.3f s2=%.2f, %d Strong's numbers "
          "in the dictionary)" % (len(order), stats["one_side_empty"], stats["misaligned"],
                                  c, s2, len(lexicon)), file=sys.stderr)
    report("bible-en-es", splits)


# ---------------------------------------------------------------------------------------------
# The in-repository fixture (tests/data/fixture): small, licence-clean, reproducible.

FIXTURE_JOHN_TRAIN_CHAPTERS = range(1, 13)  # John 1-12: 1-18 would not fit the 220 KB budget
FIXTURE_JOHN_TEST_CHAPTERS = range(19, 22)  # John 19-21
FIXTURE_LO_TRAIN, FIXTURE_LO_TEST = 280, 70


def pick_by_hash(rows, n, salt):
    """The n rows whose salted SHA-256 of the source is smallest, in their original order."""
    ranked = sorted(range(len(rows)),
                    key=lambda i: hashlib.sha256((salt + rows[i][0]).encode("utf-8")).digest())
    return [rows[i] for i in sorted(ranked[:n])]


FIXTURE_ORDER = ("john.en-es.train.tsv", "john.en-es.test.tsv",
                 "libreoffice.en-de.train.tsv", "libreoffice.en-de.test.tsv")


def fixture_readme(counts, sizes, versions):
    """README.md of the fixture. The CLI test tests/jobs/test_fixture.sh reads the table."""
    desc = {
        "john.en-es.train.tsv": "Gospel of John, chapters 1–12, one verse per line: "
                                "World English Bible → Reina-Valera 1909",
        "john.en-es.test.tsv": "Gospel of John, chapters 19–21, same Bibles",
        "libreoffice.en-de.train.tsv": "LibreOffice help paragraphs en→de from the training "
                                       "modules (all but text/simpress and text/sdatabase)",
        "libreoffice.en-de.test.tsv": "LibreOffice help paragraphs en→de from the held-out "
                                      "module text/simpress",
    }
    lines = [
        "# Test fixture: small real parallel corpora",
        "",
        "Generated with",
        "",
        "    scripts/fetch-data.sh --fixture",
        "",
        "which builds the full corpora from Debian bookworm packages into `data/` and cuts this",
        "fixture out of them (`scripts/data/build_corpora.py fixture`). Do not edit by hand:",
        "the same package versions give byte-identical files, pinned in",
        "`scripts/fetch-data.sha256`. Each `.tsv` holds one pair per line, `source<TAB>target`,",
        "UTF-8, LF line ends, no tabs inside fields; `tests/jobs/test_fixture.sh` checks this.",
        "",
        "| File | Pairs | Bytes | Content |",
        "|---|---|---|---|",
    ]
    for name in FIXTURE_ORDER:
        lines.append("| `%s` | %d | %d | %s |" % (name, counts[name], sizes[name], desc[name]))
    lines += [
        "",
        "- The verses are in canonical order (chapter:verse); chapters 13–18 are left out to",
        "  keep the fixture small. A verse whose English and Spanish did not line up would be",
        "  left out (see the verse alignment in `scripts/data/build_corpora.py`).",
        "- The LibreOffice pairs are the %d train and %d test pairs with the smallest SHA-256 of"
        % (FIXTURE_LO_TRAIN, FIXTURE_LO_TEST),
        "  `fixture:` + English side, listed in corpus order. Paragraphs are whole help",
        "  paragraphs and headings (3–40 English words), markup stripped.",
        "- No English sentence occurs in both the train and the test file of a corpus.",
        "",
        "## Sources (Debian bookworm packages)",
        "",
    ]
    for pkg in sorted(versions):
        lines.append("- `%s` %s" % (pkg, versions[pkg]))
    lines += [
        "",
        "The Bible text is exported with `mod2imp engWEB2015eb` and `mod2imp spaRV1909eb`",
        "(`libsword-utils`) from the SWORD modules in `sword-text-web` and `sword-text-sparv`;",
        "the help text is read from `usr/share/libreoffice/help/{en-US,de}` of the",
        "`libreoffice-help-*` packages.",
        "",
        "## tokenizer.json",
        "",
        "A byte-level BPE tokenizer with 1024 tokens (the special tokens `<pad>` `<src>` `</src>`",
        "`<tgt>` `</tgt>` `<|endoftext|>`, the 256 bytes, 762 merges), trained on the two training",
        "files only, so that the test pairs stay held out. `configs/tiny.ini` and `configs/small.ini`",
        "use it. It is not made by this script (it needs the proact binary); regenerate it with",
        "",
        "    proact tokenizer train --vocab-size 1024 -o tests/data/fixture/tokenizer.json \\",
        "        tests/data/fixture/john.en-es.train.tsv tests/data/fixture/libreoffice.en-de.train.tsv",
        "",
        "`tests/jobs/test_fixture.sh` checks that the shipped file is exactly what this produces.",
        "It is derived from the texts above and carries their licences.",
        "",
        "## Licences",
        "",
        "- `john.en-es.*`: the World English Bible (English side) and the Reina-Valera 1909",
        "  (Spanish side) are in the public domain (see `/usr/share/doc/sword-text-web/copyright`",
        "  and `/usr/share/doc/sword-text-sparv/copyright`). \"World English Bible\" is a",
        "  trademark of eBible.org; the text here is unchanged apart from markup removal.",
        "- `libreoffice.en-de.*`: text from the LibreOffice help, Copyright 2000, 2010 Oracle",
        "  and/or its affiliates, Copyright (c) 2000, 2010 LibreOffice contributors and/or their",
        "  affiliates, and translated by the LibreOffice translators (source:",
        "  https://git.libreoffice.org/help and https://git.libreoffice.org/translations,",
        "  as packaged in Debian's `libreoffice-help-en-us` and `libreoffice-help-de`). These two",
        "  files are available under the Mozilla Public License 2.0:",
        "",
        "  > This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0.",
        "  > If a copy of the MPL was not distributed with this file, You can obtain one at",
        "  > https://mozilla.org/MPL/2.0/.",
        "",
        "  The text was only converted from HTML to plain text and paired; the",
        "  original form is in the packages and repositories named above.",
        "",
        "No text from Ding (`trans-de-en`, GPL-2+) is in this fixture; `scripts/fetch-data.sh`",
        "builds that corpus under `data/` only.",
    ]
    return "\n".join(lines) + "\n"


def build_fixture(data_dir, fix_dir, versions):
    os.makedirs(fix_dir, exist_ok=True)
    files = {}
    john = [r for r in read_split(os.path.join(data_dir, "bible-en-es"), "test")
            if r[2].startswith("John ")]

    def chapter(ref):
        return int(ref.split()[1].split(":")[0])

    files["john.en-es.train.tsv"] = [r for r in john
                                     if chapter(r[2]) in FIXTURE_JOHN_TRAIN_CHAPTERS]
    files["john.en-es.test.tsv"] = [r for r in john
                                    if chapter(r[2]) in FIXTURE_JOHN_TEST_CHAPTERS]
    lo = os.path.join(data_dir, "libreoffice-en-de")
    files["libreoffice.en-de.train.tsv"] = pick_by_hash(read_split(lo, "train"),
                                                        FIXTURE_LO_TRAIN, "fixture:")
    files["libreoffice.en-de.test.tsv"] = pick_by_hash(read_split(lo, "test"),
                                                       FIXTURE_LO_TEST, "fixture:")
    # A test source sentence must not be seen in training (short verses can repeat verbatim).
    for corpus in ("john.en-es", "libreoffice.en-de"):
        test_src = {r[0] for r in files[corpus + ".test.tsv"]}
        train = files[corpus + ".train.tsv"]
        files[corpus + ".train.tsv"] = [r for r in train if r[0] not in test_src]
    counts, sizes = {}, {}
    for name, rows in files.items():
        data = "".join(s + "\t" + t + "\n" for s, t, _ in rows).encode("utf-8")
        with open(os.path.join(fix_dir, name), "wb") as f:
            f.write(data)
        counts[name], sizes[name] = len(rows), len(data)
    with open(os.path.join(fix_dir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(fixture_readme(counts, sizes, versions))
    total = sum(os.path.getsize(os.path.join(fix_dir, n)) for n in os.listdir(fix_dir))
    for name in FIXTURE_ORDER:
        print("  %-30s %5d pairs %7d bytes" % (name, counts[name], sizes[name]), file=sys.stderr)
    print("  fixture total (with README.md): %d bytes" % total, file=sys.stderr)


# ---------------------------------------------------------------------------------------------

CORPORA = ("libreoffice-en-de", "ding-en-de", "bible-en-es")


def print_counts(data_dir):
    print("%-18s %-6s %8s %11s %11s" % ("corpus", "split", "pairs", "src words", "tgt words"))
    for corpus in CORPORA:
        d = os.path.join(data_dir, corpus)
        if not os.path.isdir(d):
            continue
        tot = [0, 0, 0]
        for split in SPLITS:
            p = sw = tw = 0
            with open(os.path.join(d, split + ".tsv"), encoding="utf-8") as f:
                for line in f:
                    s, t = line.rstrip("\n").split("\t")
                    p, sw, tw = p + 1, sw + n_words(s), tw + n_words(t)
            tot = [tot[0] + p, tot[1] + sw, tot[2] + tw]
            print("%-18s %-6s %8d %11d %11d" % (corpus, split, p, sw, tw))
        print("%-18s %-6s %8d %11d %11d" % (corpus, "total", *tot))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd, args = argv[1], argv[2:]
    if cmd == "libreoffice" and len(args) == 3:
        build_libreoffice(*args)
    elif cmd == "ding" and len(args) == 2:
        build_ding(*args)
    elif cmd == "bible" and len(args) == 3:
        build_bible(*args)
    elif cmd == "fixture" and len(args) >= 2:
        versions = dict(a.split("=", 1) for a in args[2:])  # package=version
        build_fixture(args[0], args[1], versions)
    elif cmd == "counts" and len(args) == 1:
        print_counts(args[0])
    else:
        print("build_corpora.py: error: bad arguments for '%s' (see --help)" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
