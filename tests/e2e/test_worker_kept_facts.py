"""The worker keeps the facts it read from one decision to the next (db/world_pool.h) and reads
only their versions while nothing changed (migration 019). Whatever another writer changes in
between, the API, another process or a change made by hand in the database, the worker's next
decision sees: each test warms the worker on the parties first, changes something behind its
back, and checks the commands its next event makes. The worker decides on what it kept before it
takes its locks, and the round trip of its writes checks the versions under them (migration
020): a change behind its back fails that check, and the group runs again, checking first."""

from callback_helpers import cb_env, ring, w  # noqa: F401


def by_hand(w, sql):
    """A write nobody in callbackd makes: straight into the database."""
    w.env.pg.sql(sql, dbname=w.env.dbname)


def test_a_station_changed_by_hand_is_seen_by_the_next_event(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.busy(b)                       # the worker reads the queue of b and the station of a
    w.hook_cycle(a)                 # and a's, again: both kept
    w.settle()
    by_hand(w, f"UPDATE stations SET busy = true WHERE number = '{a}'")
    w.idle(b)                       # a is busy now: CB-11, nothing rings
    w.settle()
    w.expect([])
    assert w.state(cb) == "pending"
    by_hand(w, f"UPDATE stations SET busy = false WHERE number = '{a}'")
    w.idle(b)
    w.expect([ring(cb)])


def test_a_callback_set_through_the_api_is_seen_by_the_next_event(w):
    a, b, c = w.stations(3)
    w.busy(b)
    w.busy(b)                       # the worker reads b's queue: empty, and keeps it
    w.settle()
    cb = w.set(a, b)                # another writer: an API request's own transaction
    w.idle(b)
    w.expect([ring(cb)])
    cb2 = w.set(c, b)
    assert w.state(cb2) == "pending"


def test_a_callback_ended_by_hand_is_not_rung(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.busy(b)
    w.settle()
    by_hand(w, "UPDATE callbacks SET state = 'cancelled', ended_at = now(), "
               f"end_reason = 'requested' WHERE id = '{cb['id']}'")
    w.idle(b)
    w.settle()
    w.expect([])


def test_options_changed_through_the_api_are_seen_by_the_next_event(w):
    """The worker keeps the options with its facts (migration 020: a change of them moves the
    version of 'provisioning', which every decision checks)."""
    a, b = w.stations(2)
    w.busy(b)
    w.attempt(a, b, "busy")
    w.digits(a, "*41", call_state="busy_tone", dialed=b)   # no digit collection: ignored
    w.settle()
    w.expect([])
    w.set_options(digit_collection_during_busy_or_alerting=True)
    w.digits(a, "*41", call_state="busy_tone", dialed=b)
    w.settle()
    assert [cb["target"] for cb in w.active(a)] == [b]
