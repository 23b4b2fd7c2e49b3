#include "db/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(struct db_array *a, const char *s, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 64;
        while (a->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(a->s, cap);
        if (!grown) {
            a->failed = true;
            return;
        }
        a->s = grown;
        a->cap = cap;
    }
    memcpy(a->s + a->len, s, n);
    a->len += n;
    a->s[a->len] = '\0';
}

void db_array_open(struct db_array *a)
{
    *a = (struct db_array){0};
    put(a, "{", 1);
}

void db_array_add_int(struct db_array *a, long long v)
{
    char k[24];
    int n = snprintf(k, sizeof k, "%s%lld", a->len > 1 ? "," : "", v);
    put(a, k, (size_t)n);
}

void db_array_add_text(struct db_array *a, const char *v)
{
    put(a, a->len > 1 ? ",\"" : "\"", a->len > 1 ? 2 : 1);
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            put(a, "\\", 1);
        put(a, p, 1);
    }
    put(a, "\"", 1);
}

char *db_array_close(struct db_array *a)
{
    put(a, "}", 1);
    if (!a->failed)
        return a->s;
    free(a->s);
    return NULL;
}

char *db_array_of(const char *const *items, int n)
{
    struct db_array a;
    db_array_open(&a);
    for (int i = 0; i < n; i++)
        db_array_add_text(&a, items[i]);
    return db_array_close(&a);
}
