/* instances.h — SimulEval's evaluation files, so that SimulEval (or any other scorer) can
 * re-score our runs and we can score theirs:
 *   instances.log  one JSON object per line and sentence, keys in SimulEval's order:
 *                  {"index": 0, "prediction": "...", "delays": [2, 3], "elapsed": [812.5, 1113.0],
 *                   "prediction_length": 2, "reference": "...", "source": "...", "source_length": 5}
 *   scores.tsv     one line of tab-separated metric names, one line of values
 * and plain text files with one segment per line (--hyp/--ref of proact score).
 * Writers publish atomically (io/atomic_file.h); readers name path:line and the field at fault. */
#ifndef PROACT_INSTANCES_H
#define PROACT_INSTANCES_H

#include "src/metrics/scoring.h"

/* Writes v[0..n) as instances.log. Delays are written as integers when integral (as SimulEval
 * writes text delays), elapsed in ms with 3 decimals ("elapsed": [] when unknown). Texts must
 * be valid UTF-8 and numbers finite, else -1 naming the instance and field. */
int instances_write(const char *path, const Instance *v, int n);

/* Reads an instances.log — ours or SimulEval's (text output) — into a malloc'ed array *v of *n
 * instances in file order (free each with instance_free, then free(*v)). Keys other than
 * SimulEval's are ignored; blank lines are skipped. Required: index (integer, no repeats),
 * prediction (string), delays (list of numbers), reference (string), source_length (integer
 * >= 0). Optional: elapsed (list of numbers as long as delays; null or [] = unknown),
 * prediction_length (if present it must equal the number of delays), source (string, or a list
 * of strings joined by spaces; absent = ""). -1 with "path:line: field 'x' ..." on the first
 * bad line, "path: no instances" for a file without any. */
int instances_read(const char *path, Instance **v, int *n);

/* Writes scores.tsv: "BLEU\tchrF\tAL\tLAAL\tAP\tDAL" (+ "\tAL_CA\tLAAL_CA\tAP_CA\tDAL_CA" when
 * s->has_ca), then the values with 6 decimals ("nan" for an undefined latency). */
int scores_tsv_write(const char *path, const EvalScores *s);

/* Reads a scores.tsv as scores_tsv_write writes it: exactly its header (with or without the *_CA
 * columns, which sets s->has_ca), then one line with a value per column, each "%.6f" or, for a
 * latency, "nan". Fills the scores the file holds (bleu.score, chrf, AL ... DAL, the *_CA ones);
 * every other member of *s is zero. -1 with "path:line: column 'x' ..." at the first fault. */
int scores_tsv_read(const char *path, EvalScores *s);

/* Reads a text file as lines (one segment per line; the final newline is optional, a "\r"
 * before "\n" is removed). *lines is one malloc'ed block holding the pointers and the text:
 * free(*lines) frees it all. An empty file gives *n = 0. Invalid UTF-8 or a NUL byte -> -1
 * naming path:line. */
int lines_read(const char *path, char ***lines, int *n);

#endif
