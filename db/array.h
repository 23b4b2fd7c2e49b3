/* Array literals ("{1,2}", "{\"a\",\"b\"}") for the text parameters of statements that take an
 * array: the one way db/ passes a list to PostgreSQL. */
#ifndef DB_ARRAY_H
#define DB_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* A literal being built; `failed` once out of memory (every later call does nothing). */
struct db_array {
    char *s;
    size_t len, cap;
    bool failed;
};

/* Starts an empty literal ("{"). */
void db_array_open(struct db_array *a);
/* Appends an integer element. */
void db_array_add_int(struct db_array *a, long long v);
/* Appends a quoted element, backslash and double quote escaped, so any text stays one element. */
void db_array_add_text(struct db_array *a, const char *v);
/* Ends the literal ("}") and hands over its text, which the caller frees; NULL when out of
 * memory. */
char *db_array_close(struct db_array *a);
/* The literal of `n` texts; the caller frees it; NULL when out of memory. */
char *db_array_of(const char *const *items, int n);

#endif
