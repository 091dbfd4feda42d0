"""BLEU and LAAL per sentence, summed and finished the way proact score computes them.

BLEU is sacreBLEU 2.x's (src/metrics/bleu.c mirrors it in C): 13a tokenization, clipped n-gram
matches against one reference, corpus BLEU from the n-gram statistics summed over sentences, the
"exp" smoothing. A sentence's statistics are a row of STATS integers: matches of 1..4-grams,
n-gram totals of the hypothesis for n = 1..4, hypothesis length, reference length (in tokens).
A corpus (or a bootstrap replicate: a weighted sum of the rows) is scored by bleu_from_stats.

LAAL is SimulEval's (src/metrics/latency.c): per sentence with output, |X| = source_length and
|Y| = max(number of delays, words of the reference), the reference's words counted as SimulEval
counts them, reference.split(" "); sentences without output are left out of the mean."""
import math
import re
from collections import Counter

import numpy as np

MAX_ORDER = 4
STATS = 2 * MAX_ORDER + 2  # matches[4], totals[4], sys_len, ref_len
SYS_LEN, REF_LEN = 2 * MAX_ORDER, 2 * MAX_ORDER + 1

# sacrebleu/tokenizers/tokenizer_re.py after tokenizer_13a.py's replacements. The first rule,
# ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 ", pads single characters: a translation table does the same.
_PUNCT_13A = "".join(chr(c) for c in range(128) if re.fullmatch(r"[\{-\~\[-\` -\&\(-\+\:-\@\/]", chr(c)))
_PAD_13A = str.maketrans({c: f" {c} " for c in _PUNCT_13A})
_RE_DOT_1 = re.compile(r"([^0-9])([\.,])")  # -> r"\1 \2 "
_RE_DOT_2 = re.compile(r"([\.,])([^0-9])")  # -> r" \1 \2"
_RE_DASH = re.compile(r"([0-9])(-)")       # -> r"\1 \2 "


def tokenize_13a(line):
    """sacreBLEU's BLEU preprocessing of one segment (mixed case): rstrip, then 13a; the tokens."""
    line = line.rstrip()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} ".translate(_PAD_13A)
    if "." in line or "," in line:
        line = _RE_DOT_2.sub(r" \1 \2", _RE_DOT_1.sub(r"\1 \2 ", line))
    if "-" in line:
        line = _RE_DASH.sub(r"\1 \2 ", line)
    return line.split()


def ngrams(tokens):
    """All 1..4-grams of the tokens with their counts (tuples of different orders never collide)."""
    c = Counter()
    for n in range(1, MAX_ORDER + 1):
        c.update(zip(*[tokens[i:] for i in range(n)]))
    return c


class Reference:
    """A reference, tokenized once: its n-gram counts and length."""
    __slots__ = ("grams", "length")

    def __init__(self, text):
        tokens = tokenize_13a(text)
        self.grams = ngrams(tokens)
        self.length = len(tokens)


def sentence_stats(hyp, ref):
    """The STATS integers of hypothesis text `hyp` against a Reference."""
    tokens = tokenize_13a(hyp)
    n_tok = len(tokens)
    row = [0] * STATS
    for g, k in ngrams(tokens).items():
        r = ref.grams.get(g)
        if r:
            row[len(g) - 1] += k if k < r else r
    for n in range(1, MAX_ORDER + 1):
        row[MAX_ORDER + n - 1] = max(0, n_tok - n + 1)
    row[SYS_LEN], row[REF_LEN] = n_tok, ref.length
    return row


def bleu_from_stats(s):
    """Corpus BLEU of summed statistics s[..., STATS] (any leading shape; float or int): sacreBLEU's
    compute_bleu with smooth_method='exp', evaluated elementwise. Returns s.shape[:-1]."""
    s = np.asarray(s, dtype=np.float64)
    c, t = s[..., :MAX_ORDER], s[..., MAX_ORDER:2 * MAX_ORDER]
    sys_len, ref_len = s[..., SYS_LEN], s[..., REF_LEN]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1.0 - ref_len / sys_len), 0.0), 1.0)
        smooth = np.ones(s.shape[:-1])
        alive = np.ones(s.shape[:-1], dtype=bool)  # no order with zero totals yet (compute_bleu breaks there)
        log_sum = np.zeros(s.shape[:-1])
        for n in range(MAX_ORDER):
            alive &= t[..., n] > 0
            zero = c[..., n] == 0
            smooth = np.where(alive & zero, smooth * 2.0, smooth)
            p = np.where(zero, 100.0 / (smooth * t[..., n]), 100.0 * c[..., n] / t[..., n])
            p = np.where(alive, p, 0.0)
            log_sum = log_sum + np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -9999999999.0)  # my_log
        score = bp * np.exp(log_sum / MAX_ORDER)
    return np.where(c.sum(axis=-1) == 0, 0.0, score)  # no match at all: 0


def bleu_scalar(s):
    """bleu_from_stats of one row, in plain Python floats (the reference implementation)."""
    c, t = s[:MAX_ORDER], s[MAX_ORDER:2 * MAX_ORDER]
    sys_len, ref_len = s[SYS_LEN], s[REF_LEN]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1.0 - ref_len / sys_len) if sys_len > 0 else 0.0
    if sum(c) == 0:
        return 0.0
    smooth, prec = 1.0, [0.0] * MAX_ORDER
    for n in range(MAX_ORDER):
        if t[n] == 0:
            break
        if c[n] == 0:
            smooth *= 2.0
            prec[n] = 100.0 / (smooth * t[n])
        else:
            prec[n] = 100.0 * c[n] / t[n]
    return bp * math.exp(sum(math.log(p) if p > 0 else -9999999999.0 for p in prec) / MAX_ORDER)


def count_words(text):
    """Words of a reference as SimulEval (and proact) count them for |Y|: the pieces of split(" ")."""
    return len(text.split(" "))


def laal(delays, source_length, reference):
    """SimulEval's LAAL of one sentence, or None without output (left out of the mean)."""
    n = len(delays)
    if n == 0:
        return None
    if source_length <= 0:
        raise ValueError("source_length must be positive for a sentence with output")
    if delays[0] > source_length:
        return float(delays[0])
    ref_words = count_words(reference)  # "".split(" ") has one word
    gamma = max(n, ref_words) / source_length
    total, tau = 0.0, 0
    for t, d in enumerate(delays):
        total += d - t / gamma
        tau = t + 1
        if d >= source_length:
            break
    return total / tau
