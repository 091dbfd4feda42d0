#!/usr/bin/env python3
"""The numbers and the model cards of the shipped models (scripts/ship-model.sh, stages report and ship).

    scripts/study/shipped.py --out OUT [--corpora "..."] [--models DIR]
        -> OUT/default_head-en-de-streaming.txt, OUT/default_head-en-de-waitk.txt (chosen on validation),
           OUT/shipped.json (docs/results/summary.json's "shipped" key) and OUT/shipped.md
    scripts/study/shipped.py --out OUT --card NAME    -> the model card (README.md) of MODELS/NAME
    scripts/study/shipped.py --out OUT --into SUMMARY  -> OUT/shipped.json set as SUMMARY's "shipped" key
        (e.g. docs/results/summary.json; its other keys, the policy study's, are kept)
    scripts/study/shipped.py --out OUT --best-checkpoint RUN_DIR
        -> the kept checkpoint of a run with the lowest student validation loss (the one exported)

Inputs, all written by scripts/ship-model.sh: OUT/study (the study layout with a = the proactive
fine-tune, c = the wait-k fine-tune, d = the pretrained base, one seed) and its summary.json from
scripts/reproduce_report.py; OUT/scaling/scaling.json; the training runs' metrics.jsonl and
config.ini; OUT/cost.tsv (label, ranks, seconds of every timed command).

The default head of a model: among its streaming heads evaluated on the validation pairs, the one
with the lowest LAAL whose BLEU reaches 90% of the model's offline BLEU (BLEU and LAAL averaged over
the corpora, which share one head grid); when none does, the one with the highest BLEU.
"""
import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from study import layout, scaling  # noqa: E402  (curve.csv, metrics.jsonl, the parameter count)

MODEL_OF = {"a": "proactive", "c": "waitk", "d": "base"}
SHIPPED = {"en-de-streaming": "a", "en-de-waitk": "c"}
SHARE = 0.9  # the share of offline BLEU a default head keeps
TITLE = {"a": "ProactiveLLM fine-tune", "c": "wait-k fine-tune", "d": "pretrained base (offline)"}


def die(msg):
    sys.exit(f"shipped: {msg}")


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        die(f"{path}: {e}")


def read_curve(path):
    """{head: its row} of an eval's curve.csv (scripts/study/layout.py reads it)."""
    try:
        return {r["head"]: r for r in layout.read_curve(path)}
    except (OSError, ValueError) as e:
        die(f"{path}: {e}")


def unit(out, corpus, v):
    return layout.unit_dir(os.path.join(out, "study"), corpus, v, 1)


def choose_default(out, corpora, v):
    """The default head of model v on the pooled validation evaluations (see the module's text)."""
    curves = [read_curve(os.path.join(unit(out, c, v), "eval-valid", "curve.csv")) for c in corpora]
    heads = set.intersection(*(set(cv) for cv in curves))
    if "offline" not in heads:
        die(f"model {v}: no offline head in the validation evaluations")
    mean = {h: {k: sum(cv[h][k] for cv in curves) / len(curves) for k in ("BLEU", "LAAL")} for h in heads}
    offline = mean["offline"]["BLEU"]
    streaming = [h for h in heads if h != "offline"]
    good = [h for h in streaming if mean[h]["BLEU"] >= SHARE * offline]
    head = min(good, key=lambda h: (mean[h]["LAAL"], h)) if good else max(streaming, key=lambda h: (mean[h]["BLEU"], h))
    rule = (f"the lowest validation LAAL with at least {SHARE:.0%} of the offline validation BLEU" if good
            else f"no head reaches {SHARE:.0%} of the offline validation BLEU: the highest validation BLEU")
    return {"head": head, "rule": rule, "valid_bleu": mean[head]["BLEU"], "valid_laal": mean[head]["LAAL"],
            "valid_offline_bleu": offline}


def val_curve(run):
    """[(step, student validation loss)] of a training run."""
    return scaling.read_metrics(run)[1]


def best_checkpoint(run):
    """The kept checkpoint of RUN whose step has the lowest student validation loss."""
    val = dict(val_curve(run))
    kept = {int(m.group(1)): p for p in glob.glob(os.path.join(run, "checkpoints", "step-*.h5"))
            if (m := re.search(r"step-(\d+)\.h5$", p))}
    scored = [(val[step], step) for step in kept if step in val]
    if not scored:
        die(f"{run}: no kept checkpoint has a validation loss")
    return kept[min(scored)[1]]


def export_shape(export):
    """The model shape of an exported directory (its config.json), in proact's key names."""
    c = load_json(os.path.join(export, "config.json"))
    return {"vocab_size": c["vocab_size"], "hidden_size": c["hidden_size"], "n_layers": c["num_hidden_layers"],
            "n_heads": c["num_attention_heads"], "n_kv_heads": c["num_key_value_heads"], "head_dim": c["head_dim"],
            "intermediate_size": c["intermediate_size"], "tie_embeddings": bool(c["tie_word_embeddings"])}


def run_info(out, name):
    """A training run: its exported model's shape and size, its steps and validation curve. (A fine-tune's
    config.ini keeps [model] keys that model.init overrides: the shape comes from the export.)"""
    run = os.path.join(out, name, "run")
    shape = export_shape(os.path.join(out, name, "export"))
    total, _ = scaling.parameter_counts(shape)
    curve = val_curve(run)
    best = min(curve, key=lambda p: p[1])
    return {"run": run, "params": total, "steps": scaling.model_shape(os.path.join(run, "config.ini"))["steps"],
            "val_curve": curve, "best_step": best[0], "best_val_loss": best[1], "shape": shape}


def kept_pairs(out, name):
    """How many pairs `proact prepare` kept for OUT/data/NAME.h5 (its log's last line)."""
    path = os.path.join(out, "data", f"prepare-{name}.log")
    try:
        with open(path) as f:
            m = re.search(r": kept (\d+) of (\d+) lines", f.read())
    except OSError as e:
        die(f"{path}: {e.strerror}")
    if not m:
        die(f"{path}: no 'kept N of M lines'")
    return int(m.group(1))


def corpus_stats(data):
    """The pretraining corpus's totals from DATA/en-de-pretrain/STATS (scripts/data/pretrain.py)."""
    path = os.path.join(data, "en-de-pretrain", "STATS")
    rows = [line.rstrip("\n").split("\t") for line in open(path) if not line.startswith("#")] if os.path.exists(path) else []
    if len(rows) < 2:
        return None
    header = rows[0]
    total = next((dict(zip(header, r)) for r in rows[1:] if r[0] == "total"), None)
    return None if total is None else {"train": int(total["train"]), "valid": int(total["valid"]),
                                       "held_out": int(total["held_out"])}


def training_core_hours(run_dir):
    """Core-hours of a training run from its metrics.jsonl, which survives a killed process (cost.tsv gets a
    line only when a command ends): each process's elapsed_s restarts at 0 on a resume, so the run's
    wall-clock time is the sum of each process's last logged elapsed_s (work after a killed process's
    last log line is not counted), times its ranks."""
    steps, _ = scaling.read_metrics(run_dir)
    total, prev = 0.0, None
    for r in steps + [None]:
        if prev is not None and (r is None or r["elapsed_s"] < prev["elapsed_s"]):
            total += prev["elapsed_s"] * prev["ranks"] / 3600
        prev = r
    return total


TRAINING_RUNS = {"pretrain": ("base",), "finetune": ("proactive", "waitk")}


def cost(out):
    """Core-hours per stage: training stages from their runs' metrics.jsonl (killed processes included), the
    others from OUT/cost.tsv (each rank on its own core)."""
    by = {}
    path = os.path.join(out, "cost.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                label, ranks, seconds = line.rstrip("\n").split("\t")
                key = label.split()[0]
                by[key] = by.get(key, 0.0) + int(ranks) * float(seconds) / 3600
    for key, names in TRAINING_RUNS.items():
        by[key] = sum(training_core_hours(os.path.join(out, n, "run")) for n in names)
    return {"core_hours": sum(by.values()), "by_stage": by}


def corpus_numbers(out, corpus, summary, defaults):
    cs = summary["corpora"].get(corpus)
    if cs is None:
        die(f"{out}/study/summary.json has no corpus {corpus}: run the report stage")
    test = {v: read_curve(os.path.join(unit(out, corpus, v), "eval", "curve.csv")) for v in MODEL_OF}
    offline = {}
    for v in MODEL_OF:
        ob = cs["offline_bleu"].get(v) or {}
        offline[MODEL_OF[v]] = {"bleu": test[v]["offline"]["BLEU"], "bleu_ci": ob.get("ci"), "chrF": test[v]["offline"]["chrF"]}
    default_test = {}
    for name, v in SHIPPED.items():
        h = defaults[name]["head"]
        row = test[v].get(h)
        if row is None:
            die(f"{corpus}: model {v} has no test evaluation of its default head {h}")
        off = test[v]["offline"]["BLEU"]
        default_test[name] = {"head": h, "bleu": row["BLEU"], "chrF": row["chrF"], "laal": row["LAAL"],
                              "share_of_offline_bleu": row["BLEU"] / off if off > 0 else None}
    return {"n_test": cs["n_test"], "seeds": cs["seeds"], "offline": offline, "default_heads": default_test,
            "bleu_at_laal": cs["bleu_at_laal"], "reference": cs["reference"], "comparisons": cs["comparisons"],
            "headline": cs["headline"], "student_teacher_gap": cs["student_teacher_gap"]}


def build(out, corpora, data):
    summary = load_json(os.path.join(out, "study", "summary.json"))
    defaults = {name: choose_default(out, corpora, v) for name, v in SHIPPED.items()}
    for name in defaults:
        with open(os.path.join(out, f"default_head-{name}.txt"), "w") as f:
            f.write(defaults[name]["head"] + "\n")
    plan = load_json(os.path.join(out, "base", "plan.json"))
    sc = load_json(os.path.join(out, "scaling", "scaling.json"))
    for r in sc["sizes"]:
        r.pop("points", None)
    return {"models": {n: run_info(out, n) for n in ("base", "proactive", "waitk")}, "pretrain_plan": plan,
            "scaling": sc, "default_heads": defaults, "bootstrap": summary["bootstrap"],
            "corpora": {c: corpus_numbers(out, c, summary, defaults) for c in corpora}, "cost": cost(out),
            "data": {"pretrain_corpus": corpus_stats(data), "pretrain_pairs": kept_pairs(out, "pretrain.train"),
                     "finetune_pairs": kept_pairs(out, "finetune.train")}}


def f2(x):
    return "–" if x is None else f"{x:.2f}"


def ci(v, lohi):
    return f"{f2(v)} [{f2(lohi[0])}, {f2(lohi[1])}]" if lohi and lohi[0] is not None else f2(v)


def share(d):
    return "–" if d["share_of_offline_bleu"] is None else f"{d['share_of_offline_bleu']:.0%}"


def markdown(s):
    """The results section of the shipped models (docs/results.md)."""
    L = ["| corpus | test pairs | base: BLEU, chrF | ProactiveLLM: BLEU, chrF | wait-k: BLEU, chrF |", "|---|---|---|---|---|"]
    for c, cs in s["corpora"].items():
        o = cs["offline"]
        L.append(f"| {c} | {cs['n_test']} | " + " | ".join(
            f"{ci(o[m]['bleu'], o[m]['bleu_ci'])}, {o[m]['chrF']:.1f}" for m in ("base", "proactive", "waitk")) + " |")
    L += ["", "Offline (the whole source first): BLEU with its 95% bootstrap interval over sentences, chrF2.", "",
          "| corpus | model | default head | BLEU | LAAL | share of its offline BLEU |", "|---|---|---|---|---|---|"]
    for c, cs in s["corpora"].items():
        for name, d in cs["default_heads"].items():
            L.append(f"| {c} | {name} | `{d['head']}` | {d['bleu']:.2f} | {d['laal']:.2f} | {share(d)} |")
    L += ["", "| corpus | policy of the ProactiveLLM model | BLEU | its LAAL | wait-k model's LAAL | LAAL reduction |",
          "|---|---|---|---|---|---|"]
    for c, cs in s["corpora"].items():
        for cmp in cs["comparisons"]:
            if cmp["model"] != "a":
                continue
            red = cmp["laal_reduction"]
            lo, hi = cmp["laal_reduction_ci"] if cmp["laal_reduction_ci"] else (None, None)
            red_s = "–" if red is None else (f"{red:.0%} [{lo:.0%}, {hi:.0%}]" if lo is not None else f"{red:.0%}")
            L.append(f"| {c} | {cmp['policy']} | {f2(cmp['bleu'])} | {ci(cmp['laal'], cmp['laal_ci'])} "
                     f"| {ci(cmp['baseline_laal'], cmp['baseline_laal_ci'])} | {red_s} |")
    L += ["", "| corpus | model | KL at lag 0 | 1 | 2 | 3 | 4 | 5 | full |", "|---|---|---|---|---|---|---|---|---|"]
    for c, cs in s["corpora"].items():
        for v, per_lag in cs["student_teacher_gap"].items():
            cells = [f"{per_lag[k]['kl']['mean']:.3f}" if k in per_lag else "–" for k in ("0", "1", "2", "3", "4", "5", "full")]
            L.append(f"| {c} | {MODEL_OF.get(v, v)} | " + " | ".join(cells) + " |")
    L += ["", f"Training and evaluation cost: {s['cost']['core_hours']:.1f} core-hours ("
          + ", ".join(f"{k} {h:.2f}" for k, h in sorted(s["cost"]["by_stage"].items())) + ")."]
    return "\n".join(L) + "\n"


def card(s, name, models_dir):
    v = SHIPPED[name]
    m = s["models"][MODEL_OF[v]]
    base = s["models"]["base"]
    d = s["default_heads"][name]
    other = "en-de-waitk" if name == "en-de-streaming" else "en-de-streaming"
    L = [f"# {name}: an English → German streaming translation model ({TITLE[v]})", "",
         ("A small decoder that translates while it listens: it decides by itself when it has heard enough "
          "English to write the next German words. Trained by proact's ProactiveLLM recipe (random read "
          "schedules + synchronized self-distillation)." if v == "a" else
          "The wait-k baseline: the same base fine-tuned on wait-3 read schedules with the student loss only, "
          "as the baseline systems train. Shipped beside en-de-streaming for comparison."), "",
         "```sh", f"proact run --model models/{name}      # type English, one sentence per line",
         f"proact serve --model models/{name}    # http://127.0.0.1:8080 (a live page) and the SimulEval protocol",
         "```", "",
         f"Default decision head: `{d['head']}` ({d['rule']}, on validation pairs: BLEU {d['valid_bleu']:.2f} at "
         f"LAAL {d['valid_laal']:.2f} against {d['valid_offline_bleu']:.2f} offline).", "",
         *([f"The rule is applied to every head evaluated, adaptive ones included: on validation no probe head "
            f"reached 90% of offline BLEU at a lower LAAL than `{d['head']}`, so the default is a fixed policy. "
            "The fitted probe is in `proact.json` for `--head probe:P/min-lag=1[/max-lag=4]`; docs/results.md "
            "compares both.", ""] if v == "a" and d["head"].startswith("waitk") else []),
         "## Model", "",
         f"Llama-style decoder, {m['params'] / 1e6:.1f}M parameters: d = {m['shape']['hidden_size']}, "
         f"{m['shape']['n_layers']} layers, {m['shape']['n_heads']}/{m['shape']['n_kv_heads']} heads, SwiGLU "
         f"{m['shape']['intermediate_size']}, tied embeddings, byte-level BPE vocabulary of {m['shape']['vocab_size']}. "
         "Weights in bf16 (`model.safetensors`); `proact.json` holds the template, the read schedule it was "
         "trained with, the default head" + (" and the fitted probe head." if v == "a" else "."), "",
         "## Data", "",
         f"Pretraining: `data/en-de-pretrain` (`scripts/fetch-data.sh --pretrain`, docs/data.md), "
         f"{corpus_sentence(s['data'])} from the German translations of Debian packages (gettext catalogs of 17 l10n "
         "packages and of a standard installation), the LibreOffice help and Ding training splits, the GNOME user "
         "docs and the Debian Administrator's Handbook. Fine-tuning: the LibreOffice help and Ding training splits "
         f"({s['data']['finetune_pairs']} pairs). No validation or test sentence of either corpus is in the "
         "training data" + (f" ({s['data']['pretrain_corpus']['held_out']} removed)." if s["data"]["pretrain_corpus"] else "."), "",
         "Licences of the training text: MPL-2.0 (LibreOffice help), GPL-2+ (Ding and most catalogs), "
         "CC-BY-SA-3.0 (GNOME user docs; the handbook is GPL-2+ or CC-BY-SA-3.0), and the GPL/LGPL family of "
         "the other packages; each package's licences are in `data/en-de-pretrain/LICENSES`. Whether model "
         "weights are a derivative work of their training text is unsettled: redistribute them under terms "
         "compatible with these licences.", "",
         "## Recipe", "",
         "```sh", "./scripts/fetch-data.sh --pretrain", "./scripts/ship-model.sh        # docs/en-de-model.md", "```", "",
         f"Pretraining: size {s['pretrain_plan']['size']} chosen by measurement among "
         + ", ".join(f"{r['size']} ({r['params'] / 1e6:.1f}M)" for r in s["scaling"]["sizes"])
         + f" (docs/en-de-model.md), {s['pretrain_plan']['steps']} steps × 32 pairs "
         f"(~{s['pretrain_plan']['minutes']:.0f} minutes on 2 cores), checkpoint at step {base['best_step']} "
         f"(validation loss {base['best_val_loss']:.3f}). Fine-tuning: {m['steps']} steps × 32 pairs "
         f"from the base, checkpoint at step {m['best_step']} (student validation loss {m['best_val_loss']:.3f}).", "",
         "Validation loss (the student's view) during training:", "",
         "| run | " + " | ".join(f"step {st}" for st, _ in thin(base["val_curve"])) + " |",
         "|---|" + "---|" * len(thin(base["val_curve"])),
         "| pretraining | " + " | ".join(f"{x:.3f}" for _, x in thin(base["val_curve"])) + " |", "",
         "| run | " + " | ".join(f"step {st}" for st, _ in thin(m["val_curve"])) + " |",
         "|---|" + "---|" * len(thin(m["val_curve"])),
         "| fine-tuning | " + " | ".join(f"{x:.3f}" for _, x in thin(m["val_curve"])) + " |", "",
         f"Cost of the whole recipe (trials, pretraining, both fine-tunes, probe, evaluation): "
         f"{s['cost']['core_hours']:.1f} core-hours.", "",
         "## Scores", "",
         "On every test pair of the LibreOffice help (held-out help module) and Ding corpora; BLEU as sacreBLEU "
         "(13a), LAAL in source words as SimulEval; intervals: 95% bootstrap over sentences.", "",
         "| corpus | offline BLEU | offline chrF | default head BLEU | LAAL | share of offline |", "|---|---|---|---|---|---|"]
    for c, cs in s["corpora"].items():
        o, dh = cs["offline"][MODEL_OF[v]], cs["default_heads"][name]
        L.append(f"| {c} ({cs['n_test']}) | {ci(o['bleu'], o['bleu_ci'])} | {o['chrF']:.1f} | {dh['bleu']:.2f} "
                 f"| {dh['laal']:.2f} | {share(dh)} |")
    L += ["", f"Latency–quality curves, the comparison with `{other}` at equal BLEU and the student–teacher gap: "
          "docs/results.md (section \"The shipped models\").", "",
          "## Limits", "",
          "- Small and narrow: it knows software interfaces, help pages and dictionary phrases; general prose, "
          "names and long sentences (over 40 words) come out worse.",
          "- English → German only; sentences are translated one at a time, with no context across sentences.",
          "- The reference output in `reference/` was recorded on an AVX-512 CPU with OpenBLAS's Haswell kernels; "
          "`scripts/reference-stream.sh --check` wants its words and decisions exactly and its cues to 1e-4. "
          "Another CPU or build differs in the cues' last bits and could, rarely, flip a decision.", ""]
    return "\n".join(L)


def corpus_sentence(d):
    c = d["pretrain_corpus"]
    corpus = f"{c['train']} training pairs" if c else "its training pairs"
    return f"{corpus}, of which {d['pretrain_pairs']} have at most 96 tokens a side and were trained on,"


def thin(curve, n=8):
    """At most n points of a curve, evenly spread, the last always kept."""
    if len(curve) <= n:
        return curve
    idx = sorted({round(i * (len(curve) - 1) / (n - 1)) for i in range(n)})
    return [curve[i] for i in idx]


def into(shipped, summary_path):
    """Sets summary_path's "shipped" key, through a temporary file: a failure leaves the summary as it was."""
    summary = load_json(summary_path) if os.path.exists(summary_path) else {}
    summary["shipped"] = shipped
    tmp = summary_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(tmp, summary_path)
    print(f"{summary_path}: \"shipped\" set from the shipped models' numbers")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpora", default="libreoffice-en-de ding-en-de")
    ap.add_argument("--models", default="models")
    ap.add_argument("--data", default="data", help="the data root (its en-de-pretrain/STATS)")
    ap.add_argument("--card", choices=sorted(SHIPPED), help="print the model card of this shipped model")
    ap.add_argument("--best-checkpoint", metavar="RUN_DIR",
                    help="print the kept checkpoint of RUN_DIR with the lowest student validation loss")
    ap.add_argument("--into", metavar="SUMMARY", help="set OUT/shipped.json as this summary.json's \"shipped\" key")
    a = ap.parse_args()
    if a.into:
        into(load_json(os.path.join(a.out, "shipped.json")), a.into)
        return
    if a.best_checkpoint:
        print(best_checkpoint(a.best_checkpoint))
        return
    corpora = a.corpora.replace(",", " ").split()
    if a.card:
        sys.stdout.write(card(load_json(os.path.join(a.out, "shipped.json")), a.card, a.models))
        return
    s = build(a.out, corpora, a.data)
    with open(os.path.join(a.out, "shipped.json"), "w") as f:
        json.dump(s, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "shipped.md"), "w") as f:
        f.write(markdown(s))
    print(f"default heads: " + ", ".join(f"{n} {d['head']}" for n, d in s["default_heads"].items()))


if __name__ == "__main__":
    main()
