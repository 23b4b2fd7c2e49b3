#include "service/rfc3339.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

/* The number written with `n` digits at `s`; -1 when one of them is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : DAYS[month - 1];
}

bool cb_rfc3339_parse(const char *s, int64_t *ms)
{
    /* 2026-11-25T10:00:00 */
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return false;
    int year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);
    int hour = digits(s + 11, 2), minute = digits(s + 14, 2), second = digits(s + 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
        return false;
    const char *rest = s + 19;
    int64_t frac = 0;
    if (*rest == '.') {
        int n = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, n++)
            if (n < 3)
                frac = frac * 10 + (*rest - '0');
        if (n == 0)
            return false;
        for (; n < 3; n++)
            frac *= 10;
    }
    int offset = 0;
    if ((*rest == 'Z' || *rest == 'z') && rest[1] == '\0')
        offset = 0;
    else if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
        int oh = digits(rest + 1, 2), om = digits(rest + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (*rest == '+' ? 1 : -1);
    } else
        return false;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute,
                    .tm_sec = second};
    *ms = ((int64_t)timegm(&tm) - offset) * 1000 + frac;
    return true;
}
