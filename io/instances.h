/* instances.h — SimulEval's evaluation files, so that SimulEval (or any other scorer) can
 * re-score our runs and we can score theirs:
 *   instances.log  one JSON object per line and sentence, keys in SimulEval's order:
 *                  {"index": 0, "prediction": "...", "delays": [2, 3], "elapsed": [812.5, 1113.0],
 *                   "prediction_length": 2, "reference": "...", "source": "...", "source_length": 5}
 *                  (and "end_reason": "finished" | "length_limit" when known, after them)
 *   scores.tsv     one line of tab-separated metric names, one line of values (SimulEval's layout)
 *   config.yaml    SimulEval's source and target types
 * and plain text files with one segment per line (--hyp/--ref of proact score).
 * Writers publish atomically (io/atomic_file.h); readers name path:line and the field at fault. */
#ifndef PROACT_INSTANCES_H
#define PROACT_INSTANCES_H

#include "src/metrics/scoring.h"

/* Writes v[0..n) as instances.log. Delays are written as integers when integral (as SimulEval
 * writes text delays), elapsed exactly as reals ("elapsed": [] when unknown), "end_reason" when
 * v->end is known. Texts must
 * be valid UTF-8 and numbers finite, else -1 naming the instance and field. */
int instances_write(const char *path, const Instance *v, int n);

/* Reads an instances.log — ours or SimulEval's (text output) — into a malloc'ed array *v of *n
 * instances in file order (free each with instance_free, then free(*v)). Keys other than
 * SimulEval's are ignored; blank lines are skipped. Required: index (integer, no repeats),
 * prediction (string), delays (list of numbers), reference (string), source_length (integer
 * >= 0). Optional: elapsed (list of numbers as long as delays; null or [] = unknown),
 * prediction_length (if present it must equal the number of delays), source (string, or a list
 * of strings joined by spaces; absent = ""), end_reason ("finished" or "length_limit"). -1 with "path:line: field 'x' ..." on the first
 * bad line, "path: no instances" for a file without any. */
int instances_read(const char *path, Instance **v, int *n);

/* Writes scores.tsv as SimulEval 1.1 writes it (pandas' to_csv of its results): the header
 * "BLEU\tLAAL\tAL\tAP\tDAL\tATD" — its default quality and latency metrics in its order — or,
 * when s->has_ca, each latency followed by its *_CA twin ("BLEU\tLAAL\tLAAL_CA\tAL\tAL_CA...");
 * then the values as round(x, 3) written as Python writes that float ("3.0", "15.027"), an
 * undefined one (NaN) as an empty field. chrF is not one of SimulEval's metrics: it is not here. */
int scores_tsv_write(const char *path, const EvalScores *s);

/* Reads a scores.tsv as scores_tsv_write writes it: exactly one of its two headers (which sets
 * s->has_ca), then one line with a value per column, each a decimal number or, for a latency,
 * empty (NaN). Fills the scores the file holds (bleu.score, the latencies and the *_CA ones);
 * every other member of *s is zero. -1 with "path:line: column 'x' ..." at the first fault. */
int scores_tsv_read(const char *path, EvalScores *s);

/* Writes SimulEval's config.yaml for a text-to-text run ("source_type: text", "target_type:
 * text"), so that `simuleval --score-only --output DIR` needs no --source-type/--target-type. */
int simuleval_config_write(const char *path);

/* Reads a text file as lines (one segment per line; the final newline is optional, a "\r"
 * before "\n" is removed). *lines is one malloc'ed block holding the pointers and the text:
 * free(*lines) frees it all. An empty file gives *n = 0. Invalid UTF-8 or a NUL byte -> -1
 * naming path:line. */
int lines_read(const char *path, char ***lines, int *n);

#endif
