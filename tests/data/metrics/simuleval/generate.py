"""Expected values for proact's SimulEval conventions, computed ONCE by SimulEval's own code.

Run (not in CI: it needs SimulEval and its dependencies, which CI cannot install):
    SIMULEVAL=/path/to/SimulEval-v1.1.4 SACREBLEU=/path/to/sacrebleu-v2.6.0 TEXTGRID=/path/to/textgrid \
        /usr/bin/python3 tests/data/metrics/simuleval/generate.py
SimulEval is facebookresearch/SimulEval at tag v1.1.4 (commit a1435b65331cac9d62ea8047fe3344153d7e7dac),
sacreBLEU is mjpost/sacrebleu at tag v2.6.0 (its version.py written as setuptools_scm writes it),
textgrid is kylebgorman/textgrid (only imported by SimulEval's latency scorers, unused for text);
pandas 1.5.3, PyYAML 6.0, tqdm, tornado from Debian bookworm.

Writes, next to this script:
  cases.json   random sentences scored by SimulEval's scorer classes (ALScorer, LAALScorer, APScorer,
               DALScorer, ATDScorer) on SimulEval's LogInstance (what `--score-only` and every run with
               `--output` score): units word and char, with the reference length and without
               (--no-use-ref-len), plain and computation-aware; full precision.
  eval-<unit>/ for the two proact eval heads stored there (instances.log, config.yaml written by
               `proact eval --latency-unit <unit>`):
      simuleval-score-only.txt      what `simuleval --score-only --output DIR [--eval-latency-unit char]`
                                    printed (its CLI, run as a process)
      simuleval-score-only-ca.txt   the same with --computation-aware
      scores.simuleval.tsv          scores.tsv as SimulEval's SentenceLevelEvaluator.dump_results writes it
      scores-ca.simuleval.tsv       the same with --computation-aware
      expected.json                 the unrounded scores of both runs (evaluator.quality / .latency)
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PATHS = [os.environ[k] for k in ("SIMULEVAL", "SACREBLEU", "TEXTGRID")]
sys.path[:0] = PATHS

from simuleval import options  # noqa: E402
from simuleval.evaluator.evaluator import SentenceLevelEvaluator  # noqa: E402
from simuleval.evaluator.instance import LogInstance  # noqa: E402
from simuleval.evaluator.scorers.latency_scorer import (  # noqa: E402
    ALScorer, APScorer, ATDScorer, DALScorer, LAALScorer)

SCORERS = {"AL": ALScorer, "LAAL": LAALScorer, "AP": APScorer, "DAL": DALScorer, "ATD": ATDScorer}

# ---- random sentences -----------------------------------------------------------------------------

WORDS = ["la", "casa", "verde", "de", "Juan", "y", "él", "dijo", "que", "sí", "¿qué?", "Ζεύς", "日本", "語",
         "中文", "字", "ok"]
SEPARATORS = [" "] * 8 + ["  ", "\t", "\u3000", "\xa0"]


def reference(rng):
    kind = rng.random()
    if kind < 0.1:  # Chinese-like: no spaces
        return "".join(rng.choice(["我", "们", "是", "学", "生", "。", "中", "文"]) for _ in range(rng.randint(1, 30)))
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 25))]
    text = words[0]
    for w in words[1:]:
        text += rng.choice(SEPARATORS) + w
    if rng.random() < 0.15:
        text = rng.choice([" ", "  ", "\n", "\u3000"]) + text
    if rng.random() < 0.15:
        text = text + rng.choice([" ", "\t", " \n", "\u2003"])
    return text


def text_case(rng):
    """Delays in source words (non-decreasing), elapsed = delay + computing time so far."""
    n_src = rng.randint(1, 30)
    n_tgt = rng.randint(1, 45)
    d, cur = [], rng.randint(0 if rng.random() < 0.05 else 1, n_src)
    for _ in range(n_tgt):
        if rng.random() < 0.4:
            cur = min(n_src if rng.random() < 0.9 else n_src + 1, cur + rng.randint(1, 3))
        d.append(cur)
    cur_compute, elapsed = 0.0, []
    style = rng.random()
    for x in d:
        cur_compute += rng.random() * 0.3 if style < 0.8 else 0.0
        elapsed.append(0.0 if style >= 0.9 else x + cur_compute)
    return d, elapsed, n_src


def speech_case(rng):
    """Delays in ms (source read), as SimulEval writes them for speech: exercises ATD's 300 ms tokens."""
    n_src = rng.randint(300, 9000)
    n_tgt = rng.randint(1, 30)
    d, cur = [], rng.randint(1, 1500)
    for _ in range(n_tgt):
        if rng.random() < 0.5:
            cur = min(n_src, cur + rng.randint(1, 1400))
        d.append(float(cur))
    cc, elapsed = 0.0, []
    for x in d:
        cc += rng.random() * 200
        elapsed.append(x + cc)
    return d, elapsed, n_src


def log_instance(delays, elapsed, n_src, ref, unit):
    line = json.dumps({"index": 0, "prediction": "x", "delays": delays, "elapsed": elapsed,
                       "prediction_length": len(delays), "reference": ref, "source": "",
                       "source_length": n_src})
    return LogInstance(line, unit)


def case_values(delays, elapsed, n_src, ref):
    out = {}
    for unit in ("word", "char"):
        for ca in (False, True):
            for use_ref_len in (True, False):
                key = f"{unit}{'_ca' if ca else ''}{'' if use_ref_len else '_hyplen'}"
                vals = {}
                for name, cls in SCORERS.items():
                    ins = {0: log_instance(delays, elapsed, n_src, ref, unit)}
                    vals[name] = cls(computation_aware=ca, use_ref_len=use_ref_len)(ins)
                out[key] = vals
    return out


def write_cases():
    rng = random.Random(2111)
    cases = []
    while len(cases) < 400:
        d, e, n_src = speech_case(rng) if len(cases) % 8 == 7 else text_case(rng)
        ref = reference(rng)
        if not ref.strip():
            continue  # |Y| = 0 in characters: SimulEval divides by zero
        cases.append({"delays": d, "elapsed": e, "source_length": n_src, "reference": ref,
                      "reference_length": {"word": len(ref.split(" ")), "char": len(ref.strip())},
                      "simuleval": case_values(d, e, n_src, ref)})
    with open(os.path.join(HERE, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
        f.write("\n")


# ---- SimulEval's --score-only on proact eval directories ------------------------------------------

def cli(args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(PATHS))
    code = "import sys; from simuleval.cli import main; sys.argv[0] = 'simuleval'; main()"
    r = subprocess.run([sys.executable, "-c", code] + args, env=env, capture_output=True, text=True, check=True)
    return r.stdout


def evaluator(args):
    parser = options.general_parser()
    options.add_evaluator_args(parser)
    options.add_scorer_args(parser)
    options.add_dataloader_args(parser)
    return SentenceLevelEvaluator.from_args(parser.parse_args(args))


def score_dir(name, unit):
    src = os.path.join(HERE, name)
    expected = {"simuleval_version": "1.1.4", "latency_unit": unit}
    for ca in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            # SimulEval rewrites config.yaml and writes scores.tsv/metrics.tsv in DIR: work on a copy
            for f in ("instances.log", "config.yaml"):
                shutil.copy(os.path.join(src, f), tmp)
            args = ["--score-only", "--output", tmp, "--eval-latency-unit", unit] + (["--computation-aware"] if ca else [])
            printed = cli(args)
            with open(os.path.join(src, f"simuleval-score-only{'-ca' if ca else ''}.txt"), "w") as f:
                f.write(printed)
            ev = evaluator(args)
            expected["computation_aware" if ca else "plain"] = {**ev.quality, **ev.latency}
            ev.dump_results()
            shutil.copy(os.path.join(tmp, "scores.tsv"),
                        os.path.join(src, f"scores{'-ca' if ca else ''}.simuleval.tsv"))
    with open(os.path.join(src, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    write_cases()
    score_dir("eval-word", "word")
    score_dir("eval-char", "char")
