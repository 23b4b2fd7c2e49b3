#include "api/lists.h"
#include "api/inputs.h"
#include "api/validate.h"
#include "db/pool.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *api_cursor_encode(const char *position)
{
    size_t n = strlen(position);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)position, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

bool api_cursor_decode(const char *in, char out[API_CURSOR_MAX])
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 == 1 || n > (API_CURSOR_MAX - 1) / 3 * 4)
        return false;
    /* base64url only: EVP_DecodeBlock() would skip white space, then decode fewer than `want`
     * bytes and leave the rest of `raw` unset. */
    if (strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
        return false;
    size_t want = n / 4 * 3 + (n % 4 == 2 ? 1 : n % 4 == 3 ? 2 : 0);
    char padded[API_CURSOR_MAX * 2];
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        padded[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (n % 4)
        padded[n++] = '=';
    unsigned char raw[API_CURSOR_MAX * 2];
    if (EVP_DecodeBlock(raw, (const unsigned char *)padded, (int)n) < 0 || want >= API_CURSOR_MAX ||
        memchr(raw, 0, want))
        return false;
    memcpy(out, raw, want);
    out[want] = '\0';
    return true;
}

bool api_list_params(struct api_request *r, api_position_check valid, int *limit,
                     char cursor[API_CURSOR_MAX], json_t *errors)
{
    size_t before = json_array_size(errors);
    *limit = 50;
    cursor[0] = '\0';
    const char *l = api_query(r, "limit", errors);
    int64_t n;
    if (l && (!api_parse_whole(l, 500, &n) || n < 1))
        api_field_error(errors, "limit", "must be a whole number from 1 to 500");
    else if (l)
        *limit = (int)n;
    const char *c = api_query(r, "cursor", errors);
    if (c && (!api_cursor_decode(c, cursor) || !valid(cursor))) {
        cursor[0] = '\0';
        api_field_error(errors, "cursor", "is not a cursor this service returned");
    }
    return json_array_size(errors) == before;
}

json_t *api_list_answer(json_t *items, const char *next, const char *prev)
{
    char *n = next ? api_cursor_encode(next) : NULL;
    char *p = prev ? api_cursor_encode(prev) : NULL;
    json_t *doc =
        json_pack("{s:o, s:s?, s:s?}", "items", items, "next_cursor", n, "prev_cursor", p);
    free(n);
    free(p);
    return doc;
}

bool api_list_begin(struct api_request *r, api_position_check valid, int *limit,
                    char cursor[API_CURSOR_MAX])
{
    json_t *errors = json_array();
    if (!api_list_params(r, valid, limit, cursor, errors)) {
        api_reply_validation(r, errors);
        return false;
    }
    json_decref(errors);
    return true;
}

void api_list_keyed(struct api_request *r, const struct api_keyed_list *l)
{
    int limit;
    char cursor[API_CURSOR_MAX];
    if (!api_list_begin(r, l->valid, &limit, cursor))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    char *rows = calloc((size_t)limit + 1, l->row_size);
    int n = 0;
    enum db_status st = rows ? l->read(c, l, cursor, limit + 1, rows, &n) : DB_ERROR;
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else {
        json_t *items = json_array();
        for (int i = 0; i < n && i < limit; i++)
            json_array_append_new(items, l->render(l, rows + (size_t)i * l->row_size));
        const char *next = n > limit ? l->key(rows + (size_t)(limit - 1) * l->row_size) : NULL;
        api_reply_json(r, 200, api_list_answer(items, next, NULL));
    }
    for (int i = 0; l->release && i < n; i++)
        l->release(rows + (size_t)i * l->row_size);
    free(rows);
}
