#include "db/handoff.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Room for a few transactions' worth: the dispatcher takes confirmed commands at once. */
#define HANDOFF_SLOTS (4 * DB_HANDOFF_MAX)

struct entry {
    struct db_handoff_command c;
    const void *owner; /* the writer's connection while tentative; NULL once confirmed */
};

static struct {
    pthread_mutex_t lock;
    bool open;
    void (*wake)(void *arg);
    void *arg;
    struct entry e[HANDOFF_SLOTS];
    int n;
} h = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Takes entry `i` out, keeping the order of the others; returns it. */
static struct db_handoff_command take_at(int i)
{
    struct db_handoff_command c = h.e[i].c;
    memmove(&h.e[i], &h.e[i + 1], (size_t)(h.n - i - 1) * sizeof h.e[0]);
    h.n--;
    return c;
}

static void drop_at(int i)
{
    struct db_handoff_command c = take_at(i);
    db_outbox_commands_free(&c.cmd, 1);
}

/* Drops every entry and opens (with `wake`) or closes the hand-off. */
static void reset(bool open, void (*wake)(void *arg), void *arg)
{
    pthread_mutex_lock(&h.lock);
    while (h.n > 0)
        drop_at(h.n - 1);
    h.open = open;
    h.wake = wake;
    h.arg = arg;
    pthread_mutex_unlock(&h.lock);
}

void db_handoff_open(void (*wake)(void *arg), void *arg)
{
    reset(true, wake, arg);
}

void db_handoff_close(void)
{
    reset(false, NULL, NULL);
}

bool db_handoff_offer(const void *owner, struct db_handoff_command *cmds, int n)
{
    pthread_mutex_lock(&h.lock);
    bool taken = h.open && n <= HANDOFF_SLOTS - h.n;
    for (int i = 0; taken && i < n; i++)
        h.e[h.n++] = (struct entry){.c = cmds[i], .owner = owner};
    pthread_mutex_unlock(&h.lock);
    return taken;
}

void db_handoff_settle(const void *owner, bool committed)
{
    bool confirmed = false;
    pthread_mutex_lock(&h.lock);
    for (int i = h.n - 1; i >= 0; i--) {
        if (h.e[i].owner != owner)
            continue;
        if (committed) {
            h.e[i].owner = NULL;
            confirmed = true;
        } else
            drop_at(i);
    }
    if (confirmed && h.wake) /* under the lock: the dispatcher cannot close meanwhile */
        h.wake(h.arg);
    pthread_mutex_unlock(&h.lock);
}

int db_handoff_take(struct db_handoff_command *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&h.lock);
    while (n < max) {
        int lowest = -1;
        for (int i = 0; i < h.n; i++)
            if (!h.e[i].owner && (lowest < 0 || h.e[i].c.cmd.seq < h.e[lowest].c.cmd.seq))
                lowest = i;
        if (lowest < 0)
            break;
        out[n++] = take_at(lowest);
    }
    pthread_mutex_unlock(&h.lock);
    return n;
}

void db_handoff_forget(long long seq)
{
    pthread_mutex_lock(&h.lock);
    for (int i = h.n - 1; i >= 0; i--)
        if (h.e[i].c.cmd.seq == seq)
            drop_at(i);
    pthread_mutex_unlock(&h.lock);
}
