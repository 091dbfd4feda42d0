#!/usr/bin/env bash
# make_corpus.sh OUT — assembles the tokenizer test corpus (at least 20,000 lines, about 2 MB)
# from text that is on every machine that ran scripts/install-deps.sh, plus generated lines.
# The same machine always gives the same corpus (fixed order, fixed random seed).
#
# Sources, in order (each capped; a missing one is skipped and reported):
#   data/ and tests/data/fixture/   the project's fetched corpora and fixture, if present
#   tests/tokenizer/multilingual.txt  hand-written German, Spanish, English and 20 other scripts
#   /usr/share/common-licenses/*    English legal text (package base-files)
#   the project's sources            C, Python, shell: code, indentation, runs of spaces and tabs
#   /usr/share/unicode/emoji/emoji-test.txt  every emoji sequence (package unicode-data)
#   /usr/share/locale/{de,es}/LC_MESSAGES/*.mo  German and Spanish message catalogues (dpkg and
#                                    apt ship them); the translated strings are read from the .mo
#                                    files directly, as raw bytes (some catalogues are Latin-1,
#                                    which gives natural invalid UTF-8)
#   man pages (roff) and Debian changelogs, if installed
#   generated lines: invalid UTF-8 (truncated, overlong, surrogate, out-of-range, stray
#   continuation bytes), NFD text and unordered combining marks, whitespace (tabs, runs of
#   spaces, U+00A0, U+3000, U+0085, U+FEFF, U+2028), "\r" inside and at the end of lines (CRLF),
#   numbers, contractions, added/special tokens of Qwen3, GPT-2 and proact's own tokenizer,
#   random characters of many scripts, a few very long lines; then filler sentences until the
#   corpus has 20,000 lines.
#
# Lines are separated by "\n" only: a "\r" stays in its line on both sides of the comparison.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: make_corpus.sh OUT" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 - "$1" "$root" <<'PY'
import glob, gzip, os, random, struct, sys, unicodedata

out_path, root = sys.argv[1], sys.argv[2]
rng = random.Random(20250101)
corpus = []          # lines as bytes, without "\n"
report = []


def split_lines(data):
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def is_text(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"\0" not in head


def add(name, lines, limit):
    lines = [l for l in lines if len(l) < 200000][:limit]
    corpus.extend(lines)
    found = lines or name.startswith("generated")
    report.append(f"{name}: {len(lines)} lines" if found else f"{name}: not found, skipped")


def from_files(paths, limit, per_file=None, opener=open):
    lines = []
    for p in paths:
        if len(lines) >= limit:
            break
        try:
            with opener(p, "rb") as f:
                got = split_lines(f.read(8 << 20))   # the start of a big file is enough
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        lines.extend(got[:per_file] if per_file else got)
    return lines[:limit]


def mo_strings(path):
    """Translated strings of a GNU .mo catalogue, as raw bytes (header entry skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if endian is None:
        return []
    n, _, trans = struct.unpack(endian + "III", data[8:20])
    out = []
    for i in range(n):
        length, off = struct.unpack(endian + "II", data[trans + 8 * i: trans + 8 * i + 8])
        s = data[off: off + length]
        if s and not s.startswith(b"Project-Id-Version"):
            out.extend(x for x in s.split(b"\0")[0].split(b"\n") if x.strip())
    return out


# --- the project's corpora and fixture ---------------------------------------------------
def tree_files(d):
    return sorted(p for p in glob.glob(os.path.join(d, "**", "*"), recursive=True)
                  if os.path.isfile(p) and os.path.getsize(p) < (1 << 30) and is_text(p))


data_files = tree_files(os.path.join(root, "data"))
add("data/", from_files(data_files, 4000, per_file=max(1, 4000 // max(1, len(data_files)))), 4000)
fix_files = tree_files(os.path.join(root, "tests", "data", "fixture"))
add("tests/data/fixture/", from_files(fix_files, 2000, per_file=400), 2000)

# --- text installed with Debian ----------------------------------------------------------
multilingual = from_files([os.path.join(root, "tests", "tokenizer", "multilingual.txt")], 1000)
add("multilingual.txt", multilingual, 1000)
add("common-licenses", from_files(sorted(glob.glob("/usr/share/common-licenses/*")), 6000), 6000)
code = []
for pattern in ("src/*.[ch]", "io/*.[ch]", "jobs/*.c", "tests/**/*.py", "tests/**/*.sh", "scripts/*.sh"):
    code += sorted(glob.glob(os.path.join(root, pattern), recursive=True))
add("project sources", from_files(code, 5000), 5000)
add("emoji-test.txt", from_files(["/usr/share/unicode/emoji/emoji-test.txt"], 3500), 3500)
for lang in ("de", "es"):
    lines = []
    for p in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        try:
            lines += mo_strings(p)
        except (OSError, struct.error):
            pass
        if len(lines) >= 3000:
            break
    add(f"{lang} .mo catalogues", list(dict.fromkeys(lines)), 3000)
add("man pages", from_files(sorted(glob.glob("/usr/share/man/man1/*.gz")), 1500, 25, gzip.open), 1500)
add("changelogs", from_files(sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")), 1500, 20, gzip.open), 1500)

# --- generated lines ---------------------------------------------------------------------
seed_text = [l for l in corpus if l.strip()] or [b"The quick brown fox jumps over the lazy dog."]
words = [w.decode("utf-8", "replace") for l in (multilingual or seed_text[:2000]) for w in l.split()]

INVALID = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xed\xa0\x80",
           b"\xed\xbf\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xf8\x88\x80\x80\x80",
           b"\xfe", b"\xff", b"\xe2\x82", b"\xe2", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xc3", b"\xe2\x28\xa1",
           b"\xf0\x28\x8c\xbc", b"\xc3\x28", b"Stra\xdfe", b"K\xf6ln", b"ni\xf1o", b"\x80\x80\x80", b"\xc2\xc2\xa9"]


def invalid_lines(n):
    out = []
    for i in range(n):
        line = bytearray(rng.choice(seed_text)[:300])
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(line))
            line[at:at] = rng.choice(INVALID)   # may also cut a valid character in two
        out.append(bytes(line))
    for i in range(n // 10):
        out.append(bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 40))))
    return out


def whitespace_lines(n):
    spaces = [" ", "  ", "   ", "    ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\u2003", "\u0085", "\ufeff",
              "\u2028", "\u200b", "\x0b", "\x0c", "\r", " \r", "\r\r"]
    out = []
    for i in range(n):
        parts = [rng.choice(spaces) if rng.random() < 0.4 else rng.choice(words) for _ in range(rng.randint(1, 12))]
        sep = rng.choice([" ", "  ", "\t", "", "     "])
        lead = rng.choice(["", " ", "    ", "\t", "\t\t", "        ", "\ufeff"])
        trail = rng.choice(["", " ", "   ", "\t", "\r", " \r"])
        out.append((lead + sep.join(parts) + trail).encode())
    out += [b"", b" ", b"\t", b"\r", b"    ", b" " * 50, b"\t" * 20, b"x" + b" " * 33 + b"y", b"\r\r\r"]
    return out


def crlf_lines(lines):
    return [l + b"\r" for l in lines] + [l.replace(b" ", b"\r", 1) for l in lines]


def nfd_lines(lines):
    out = []
    for l in lines:
        s = l.decode("utf-8", "replace")
        out.append(unicodedata.normalize("NFD", s).encode())
        out.append(unicodedata.normalize("NFKD", s).encode())   # still needs NFC, differs in places
    out += ["e\u0301 vs \u00e9, a\u0316\u0301 vs a\u0301\u0316, \u1100\u1161\u11a8 vs \uac01".encode(),
            "Cafe\u0301, pin\u0303a, u\u0308ber, A\u030a, \u212b, \u2126, q\u0307\u0323, o\u0328\u0304".encode(),
            "\u0301 starts with a mark; x\u0338 and \u2260".encode()]
    return out


def number_lines(n):
    out = []
    for i in range(n):
        kind = rng.randrange(7)
        if kind == 0: s = str(rng.randint(0, 10 ** rng.randint(1, 30)))
        elif kind == 1: s = f"{rng.uniform(-1e6, 1e6):,.{rng.randint(0, 6)}f}"
        elif kind == 2: s = f"{rng.uniform(0, 1):.3e} {rng.randint(1, 31):02d}.{rng.randint(1, 12):02d}.{rng.randint(1900, 2100)}"
        elif kind == 3: s = f"+49 {rng.randint(100, 999)} {rng.randint(1000000, 9999999)} / {rng.randint(0, 99)}%"
        elif kind == 4: s = f"v{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}-rc{rng.randint(1, 9)}"
        elif kind == 5: s = " ".join(str(rng.randint(0, 9999)) for _ in range(rng.randint(2, 20)))
        else: s = f"{rng.randint(1, 9)}\u00bd \u00b2\u00b3 \u0663\u0664 \uff11\uff12 \u2167 {rng.randint(1, 99)}\u202f000"
        out.append(s.encode())
    return out


SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
           "<|fim_prefix|>", "<|fim_middle|>", "<|vision_pad|>", "<pad>", "<src>", "</src>", "<tgt>", "</tgt>",
           "<|im_sta", "<|endoftext|", "im_end|>", "<<|im_end|>>"]


def special_lines(n):
    out = []
    for i in range(n):
        parts = [rng.choice(SPECIAL) if rng.random() < 0.3 else rng.choice(words) for _ in range(rng.randint(1, 10))]
        out.append(rng.choice([" ", "", "  "]).join(parts).encode())
    out += [b"<|im_start|>user\\nHello<|im_end|>", b"<|endoftext|><|endoftext|>", b" <|endoftext|> ",
            b"<think>\t</think>", b"<src> Hallo Welt </src><tgt> Hello world </tgt>"]
    return out


def contraction_lines():
    base = ["it's", "IT'S", "we'LL", "they'Ve", "I'm", "you'D", "she'sn't", "'s'", "'''", "rock'n'roll",
            "\u2019s", "l'\u017f", "'\u017f", "'\u212a", "\u0130stanbul", "stra\u00dfe STRASSE", "\ufb01le \ufb02y"]
    return [" ".join(rng.sample(base, 6)).encode() for _ in range(60)] + [" ".join(base).encode()]


BLOCKS = [(0x21, 0x7E), (0xA0, 0xFF), (0x100, 0x17F), (0x180, 0x24F), (0x300, 0x36F), (0x391, 0x3A9),
          (0x3B1, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA), (0x621, 0x64A), (0x660, 0x669), (0x905, 0x939),
          (0x966, 0x96F), (0xE01, 0xE2E), (0x1100, 0x1112), (0x1161, 0x1175), (0x2010, 0x2027), (0x2070, 0x209C),
          (0x2150, 0x2188), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2500, 0x257F), (0x3041, 0x3096),
          (0x30A1, 0x30FA), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3), (0xFF01, 0xFF5E), (0x1F600, 0x1F64F),
          (0x1F300, 0x1F5FF), (0x1D400, 0x1D7FF)]


def random_unicode_lines(n):
    out = []
    for i in range(n):
        chars = []
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.15:
                chars.append(" ")
            else:
                lo, hi = rng.choice(BLOCKS)
                chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars).encode())
    return out


def long_lines():
    letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5000))
    return [letters.encode(), (" " * 20000).encode(), "".join(rng.choice("0123456789") for _ in range(3000)).encode(),
            "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(8000)).encode(),
            ("\u00e4" * 3000).encode(), ("ab" * 4000).encode(), ("\t " * 3000).encode(), ("!?" * 2000).encode()]


add("generated: invalid UTF-8", invalid_lines(400), 10 ** 9)
add("generated: whitespace", whitespace_lines(400), 10 ** 9)
add("generated: CR and CRLF", crlf_lines(rng.sample(seed_text, min(200, len(seed_text)))), 10 ** 9)
add("generated: NFD", nfd_lines(multilingual or seed_text[:80]), 10 ** 9)
add("generated: numbers", number_lines(400), 10 ** 9)
add("generated: added tokens", special_lines(300), 10 ** 9)
add("generated: contractions", contraction_lines(), 10 ** 9)
add("generated: random characters", random_unicode_lines(500), 10 ** 9)
add("generated: long lines", long_lines(), 10 ** 9)
filler = []
while len(corpus) + len(filler) < 20000:
    filler.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 25))).encode())
add("generated: filler sentences", filler, 10 ** 9)

with open(out_path, "wb") as f:
    f.write(b"\n".join(corpus) + b"\n")
size = sum(len(l) + 1 for l in corpus)
invalid = 0
for l in corpus:
    try:
        l.decode("utf-8")
    except UnicodeDecodeError:
        invalid += 1
for r in report:
    print(f"make_corpus: {r}", file=sys.stderr)
print(f"make_corpus: {len(corpus)} lines, {size} bytes, {invalid} lines with invalid UTF-8 -> {out_path}", file=sys.stderr)
PY
