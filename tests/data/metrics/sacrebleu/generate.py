#!/usr/bin/env python3
"""Expected values for proact score from sacreBLEU 2.6.0's own code (run once; CI reads the output).

usage: /usr/bin/python3 generate.py SACREBLEU_GIT_DIR
  SACREBLEU_GIT_DIR: a clone (or bare mirror) of github.com/mjpost/sacrebleu holding tag v2.6.0.
  Needs sacreBLEU's dependencies (Debian: python3-regex python3-portalocker python3-tabulate
  python3-colorama python3-lxml python3-numpy).

Writes, next to this script: expected.json (BLEU with every tokenizer, chrF/chrF++, TER, the words
BLEU counts per line, on the sets below) and cli/*.out (sacreBLEU's command-line output, byte for
byte, for the cases listed in expected.json's "cli", each with the proact arguments that must print
the same bytes). The tests: tests/metrics/test_bleu.c, test_chrf.c, test_ter.c, tests/jobs/test_score.sh.
"""
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import types

TAG, COMMIT, VERSION = "v2.6.0", "2277caccfc7b956671a6a09f1646f62250034157", "2.6.0"
HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = os.path.dirname(HERE)  # tests/data/metrics: paths in expected.json are relative to it

# Run sacreBLEU's command line from the unpacked source; its version.py is what setuptools_scm writes
# at install time for the tag, so it is made here the same way.
BOOT = """
import sys, types
m = types.ModuleType("sacrebleu.version"); m.__version__ = m.version = %r
sys.modules["sacrebleu.version"] = m
sys.path.insert(0, sys.argv[1])
sys.argv = ["sacrebleu"] + sys.argv[2:]
from sacrebleu.sacrebleu import main
main()
"""


def unpack(git_dir, dest):
    commit = subprocess.check_output(["git", "--git-dir", git_dir, "rev-parse", TAG + "^{commit}"], text=True).strip()
    assert commit == COMMIT, (commit, COMMIT)
    tar = subprocess.check_output(["git", "--git-dir", git_dir, "archive", "--format=tar", TAG])
    with tempfile.TemporaryFile() as f:
        f.write(tar)
        f.seek(0)
        tarfile.open(fileobj=f).extractall(dest)
    m = types.ModuleType("sacrebleu.version")
    m.__version__ = m.version = VERSION
    sys.modules["sacrebleu.version"] = m
    sys.path.insert(0, dest)
    import sacrebleu
    assert sacrebleu.__version__ == VERSION


def lines(rel):
    # as sacreBLEU's command line reads a file: split on "\n", each line rstripped
    with open(os.path.join(METRICS, rel), encoding="utf-8", newline="\n") as f:
        return [l.rstrip() for l in f]


def bible_ref2():
    """A second reference for bible-es-apertium-first200, made once from the first: a seeded
    rewrite (some words dropped, some neighbours swapped) so that the references differ in length
    and wording."""
    rng = random.Random(2026)
    out = []
    for l in lines("bleu/bible-es-apertium-first200/ref.txt"):
        w = l.split()
        w = [x for x in w if rng.random() > 0.12]
        for i in range(len(w) - 1):
            if rng.random() < 0.1:
                w[i], w[i + 1] = w[i + 1], w[i]
        out.append(" ".join(w))
    path = os.path.join(HERE, "bible-first200-ref2.txt")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(l + "\n" for l in out)


def ter_stress():
    """ter-stress/: long and repetitive segments for TER's beam, shift distance and candidate
    limits, from a seeded generator."""
    rng = random.Random(21)
    words = "the of and to in a is that for it as was with be by on not he this are or his from at which".split()
    H, R = [], []
    ref = [rng.choice(words) for _ in range(90)]
    H.append("word"), R.append(" ".join(ref))  # the beam widened: 90 reference words for 1
    H.append(" ".join(ref)), R.append("word")  # and the reverse
    base = [f"w{i}" for i in range(120)]
    blocks = [base[i:i + 8] for i in range(0, 120, 8)]
    rng.shuffle(blocks)
    H.append(" ".join(w for b in blocks for w in b)), R.append(" ".join(base))  # block moves, some > 50 words away
    abc = [rng.choice("abc") for _ in range(80)]
    H.append(" ".join(abc)), R.append(" ".join(rng.sample(abc, len(abc))))  # many equal words: 1000 candidates
    rev = [f"v{i % 7}" for i in range(30)]
    H.append(" ".join(rev)), R.append(" ".join(reversed(rev)))
    H.append("A B C D E F"), R.append("a b c d e f")  # case-insensitive by default
    H.append("x y z"), R.append("")  # an empty reference
    os.makedirs(os.path.join(HERE, "ter-stress"), exist_ok=True)
    for name, text in (("hyp.txt", H), ("ref.txt", R)):
        with open(os.path.join(HERE, "ter-stress", name), "w", encoding="utf-8", newline="\n") as f:
            f.writelines(l + "\n" for l in text)


SETS = {
    "bible-es-apertium-first200": ("bleu/bible-es-apertium-first200/hyp.txt",
                                   ["bleu/bible-es-apertium-first200/ref.txt"]),
    "bible-es-apertium-3000": ("bleu/bible-es-apertium-3000/hyp.txt", ["bleu/bible-es-apertium-3000/ref.txt"]),
    "bible-first200-2refs": ("bleu/bible-es-apertium-first200/hyp.txt",
                             ["bleu/bible-es-apertium-first200/ref.txt", "sacrebleu/bible-first200-ref2.txt"]),
    "greek-sigma": ("sacrebleu/greek-sigma/hyp.txt", ["sacrebleu/greek-sigma/ref.txt"]),
    "zh": ("sacrebleu/zh/hyp.txt", ["sacrebleu/zh/ref.txt"]),
    "multi-ref": ("sacrebleu/multi-ref/hyp.txt",
                  ["sacrebleu/multi-ref/ref1.txt", "sacrebleu/multi-ref/ref2.txt", "sacrebleu/multi-ref/ref3.txt"]),
    "ter-stress": ("sacrebleu/ter-stress/hyp.txt", ["sacrebleu/ter-stress/ref.txt"]),
}
SMALL = {"greek-sigma", "zh", "multi-ref", "ter-stress"}  # these also get the words of every line
TOKENIZERS = ["13a", "none", "intl", "char", "zh"]

# sacreBLEU command lines (after the reference files and -i HYP) and proact's equivalent options
# (with --format json added where sacreBLEU prints its default JSON).
CLI = [
    ("bible-es-apertium-first200", [], ["--metrics", "bleu"]),
    ("bible-es-apertium-first200", ["-m", "bleu", "chrf", "ter"], ["--metrics", "bleu,chrf,ter"]),
    ("bible-es-apertium-first200", ["-m", "bleu", "chrf", "ter", "--chrf-word-order", "2", "-lc", "-tok", "intl",
                                    "-w", "4"],
     ["--metrics", "bleu,chrf,ter", "--chrf-word-order", "2", "--lowercase", "--tokenize", "intl", "--width", "4"]),
    ("bible-first200-2refs", ["-m", "bleu", "chrf", "ter"], ["--metrics", "bleu,chrf,ter"]),
    ("multi-ref", ["-m", "bleu", "chrf", "ter", "-w", "3"], ["--metrics", "bleu,chrf,ter", "--width", "3"]),
    ("multi-ref", ["-m", "ter"], ["--metrics", "ter"]),
    ("zh", ["-m", "bleu", "chrf", "ter", "-tok", "zh", "-w", "2"],
     ["--metrics", "bleu,chrf,ter", "--tokenize", "zh", "--width", "2"]),
    ("greek-sigma", ["-m", "bleu", "chrf", "ter", "-lc", "--chrf-lowercase", "--ter-case-sensitive",
                     "--chrf-word-order", "2"],
     ["--metrics", "bleu,chrf,ter", "--lowercase", "--chrf-lowercase", "--ter-case-sensitive",
      "--chrf-word-order", "2"]),
    ("greek-sigma", ["-m", "bleu", "chrf", "ter", "-lc"], ["--metrics", "bleu,chrf,ter", "--lowercase"]),
    ("ter-stress", ["-m", "ter", "chrf", "-w", "6"], ["--metrics", "ter,chrf", "--width", "6"]),
    ("multi-ref", ["-m", "bleu", "chrf", "ter", "-f", "text"], ["--metrics", "bleu,chrf,ter", "--format", "text"]),
    ("zh", ["-m", "bleu", "-tok", "zh", "-f", "text", "-w", "2"],
     ["--metrics", "bleu", "--tokenize", "zh", "--format", "text", "--width", "2"]),
]


def metric_values(hyps, refs, small):
    from sacrebleu.metrics import BLEU, CHRF, TER
    out = {"bleu": [], "chrf": [], "ter": []}
    for tok in TOKENIZERS:
        for lc in (False, True):
            m = BLEU(tokenize=tok, lowercase=lc)
            s = m.corpus_score(hyps, refs)
            out["bleu"].append({"tok": tok, "lowercase": lc, "score": s.score, "counts": s.counts,
                                "totals": s.totals, "sys_len": s.sys_len, "ref_len": s.ref_len, "bp": s.bp,
                                "signature": str(m.get_signature())})
    for wo in (0, 2):
        for lc in (False, True):
            m = CHRF(word_order=wo, lowercase=lc)
            s = m.corpus_score(hyps, refs)
            out["chrf"].append({"word_order": wo, "lowercase": lc, "score": s.score, "name": s.name,
                                "signature": str(m.get_signature())})
    for cs in (False, True):
        m = TER(case_sensitive=cs)
        s = m.corpus_score(hyps, refs)
        out["ter"].append({"case_sensitive": cs, "score": s.score, "num_edits": s.num_edits,
                           "ref_length": s.ref_length, "signature": str(m.get_signature())})
    if small:
        out["tokens"] = []
        for tok in TOKENIZERS:
            for lc in (False, True):
                m = BLEU(tokenize=tok, lowercase=lc)
                out["tokens"].append({"tok": tok, "lowercase": lc,
                                      "hyp": [" ".join(m._preprocess_segment(x).split()) for x in hyps],
                                      "refs": [[" ".join(m._preprocess_segment(x).split()) for x in r]
                                               for r in refs]})
        # TER's per-line edits against the first reference (sacreBLEU's lib_ter), for the unit test
        from sacrebleu.metrics.lib_ter import translation_edit_rate
        t = TER()
        out["ter_lines"] = [translation_edit_rate(t._preprocess_segment(h).split(), t._preprocess_segment(r).split())
                            for h, r in zip(hyps, refs[0])]
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = tempfile.mkdtemp(prefix="sacrebleu-")
    unpack(os.path.abspath(sys.argv[1]), src)
    bible_ref2()
    ter_stress()
    result = {"sacrebleu": {"version": VERSION, "tag": TAG, "commit": COMMIT}, "sets": {}, "cli": []}
    for name, (hyp, refs) in SETS.items():
        print("set", name, file=sys.stderr)
        v = metric_values(lines(hyp), [lines(r) for r in refs], name in SMALL)
        result["sets"][name] = {"hyp": hyp, "refs": refs, **v}
    os.makedirs(os.path.join(HERE, "cli"), exist_ok=True)
    for i, (name, args, proact) in enumerate(CLI):
        hyp, refs = SETS[name]
        cmd = [sys.executable, "-c", BOOT % VERSION, src] + refs + ["-i", hyp] + args
        env = dict(os.environ, NO_COLOR="1")
        env.pop("SACREBLEU_FORMAT", None)
        p = subprocess.run(cmd, cwd=METRICS, env=env, capture_output=True, check=True)
        out = f"{i:02d}-{name}.out"
        with open(os.path.join(HERE, "cli", out), "wb") as f:
            f.write(p.stdout)
        if "--format" not in proact:  # sacreBLEU's default output is its JSON
            proact = proact + ["--format", "json"]
        result["cli"].append({"set": name, "hyp": hyp, "refs": refs, "sacrebleu_args": args,
                              "proact_args": proact, "stdout": "sacrebleu/cli/" + out})
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
