/* template.h — how a (source, target) pair is wrapped into one sequence (docs/design.md §2.1):
 *     prompt  source-words  src_end  |  tgt_begin  target-words  tgt_end
 * `tgt_begin` is forced at inference (never predicted); `tgt_end` is predicted (it ends the
 * output). Templates are named; {src} and {tgt} in their strings become language names. */
#ifndef PROACT_TEMPLATE_H
#define PROACT_TEMPLATE_H

#include <stddef.h>

#include "src/text/tokenizer.h"

typedef struct {
    const char *name;
    const char *description;
    const char *prompt, *src_end, *tgt_begin, *tgt_end;
    const char *required[6]; /* tokens the tokenizer must have as single tokens; NULL-terminated */
} TemplateSpec;

/* A template's pieces as token ids (owned, freed by template_pieces_free; a test may point them
 * at static arrays instead). */
typedef struct {
    IdVec prompt, src_end, tgt_begin, tgt_end;
} TemplatePieces;

/* The pieces in their order, for code that treats them alike: piece i (0..TEMPLATE_PIECES-1) and
 * its name, which is also its name in files (proact.json's template_tokens, the shards' /template). */
enum { TEMPLATE_PIECES = 4 };
extern const char *const TEMPLATE_PIECE_NAMES[TEMPLATE_PIECES];
IdVec *template_piece(TemplatePieces *tp, int i);
const IdVec *template_piece_const(const TemplatePieces *tp, int i);

/* NULL (px_error listing the names) if unknown. */
const TemplateSpec *template_find(const char *name);
/* "plain, chatml, llama3" */
const char *template_names(void);
/* English name of a language code ("de" -> "German"); the code itself if unknown. */
const char *language_name(const char *code);

/* Language codes from a file name like "john.en-es.train.tsv" (two 2-3 letter codes around a
 * dash); "source"/"target" if there are none. */
void template_guess_languages(const char *path, char *src, char *tgt, size_t size);

/* The text of piece i (TEMPLATE_PIECE_NAMES order) with {src}/{tgt} filled in, into buf; -1 if it does
 * not fit in size bytes. */
int template_piece_text(const TemplateSpec *spec, int i, const char *src_lang, const char *tgt_lang, char *buf,
                        size_t size);

/* Tokenizes the template pieces with {src}/{tgt} filled in. Fails naming the template and
 * the missing token if the tokenizer lacks one of its special tokens. */
int template_tokenize(const TemplateSpec *spec, const Tokenizer *t, const char *src_lang, const char *tgt_lang,
                      TemplatePieces *out);
void template_pieces_free(TemplatePieces *tp);

#endif
