-- The whole model of the rules (service/core/README.md): directory (COS, stations with live state, consoles, trunk and hunt
-- groups), system options, callbacks with history, timers, the PBX event inbox, the command outbox,
-- tokens and idempotency keys. Indexes are named after the query that uses them.

CREATE TABLE classes_of_service (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,32}$'),
    callbacks_allowed boolean NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Directory numbers of stations, trunk groups and hunt groups share one namespace.
CREATE TABLE directory_numbers (
    number text PRIMARY KEY CHECK (number ~ '^[0-9*#]{1,32}$'),
    kind   text NOT NULL CHECK (kind IN ('station', 'trunk_group', 'hunt_group'))
);

CREATE TABLE stations (
    number             text PRIMARY KEY REFERENCES directory_numbers (number),
    kind               text NOT NULL CHECK (kind IN ('ip_phone', 'analog', 'mobile', 'console')),
    cos                text NOT NULL REFERENCES classes_of_service (id),
    prime_line         text NOT NULL,
    resilient          boolean NOT NULL DEFAULT false,
    console_group      text,
    -- Live state, as last reported by the PBX (the defaults openapi.yaml documents, until then).
    busy               boolean NOT NULL DEFAULT false,
    hook_off           boolean NOT NULL DEFAULT false,
    dnd                boolean NOT NULL DEFAULT false,
    make_busy          boolean NOT NULL DEFAULT false,
    attendant_busy_out boolean NOT NULL DEFAULT false,
    forward_to         text,
    failed_over        boolean NOT NULL DEFAULT false,
    console_available  boolean NOT NULL DEFAULT true,
    -- The current failed call attempt (CB-01): busy, no_answer or trunks_busy.
    attempt_result     text CHECK (attempt_result IN ('busy', 'no_answer', 'trunks_busy')),
    attempt_to         text,
    attempt_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stations_by_console_group ON stations (console_group) WHERE kind = 'console';
CREATE INDEX stations_by_cos ON stations (cos);

CREATE TABLE trunk_groups (
    number              text PRIMARY KEY REFERENCES directory_numbers (number),
    callback_activation boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trunk_lines (
    trunk_group  text NOT NULL REFERENCES trunk_groups (number) ON DELETE CASCADE,
    line         text NOT NULL CHECK (length(line) BETWEEN 1 AND 64),
    position     integer NOT NULL,
    busy         boolean NOT NULL DEFAULT false,
    reserved_for uuid,
    PRIMARY KEY (trunk_group, line)
);

CREATE TABLE hunt_groups (
    number              text PRIMARY KEY REFERENCES directory_numbers (number),
    callback_activation boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hunt_group_members (
    hunt_group text NOT NULL REFERENCES hunt_groups (number) ON DELETE CASCADE,
    station    text NOT NULL REFERENCES stations (number) ON DELETE CASCADE,
    position   integer NOT NULL,
    PRIMARY KEY (hunt_group, station)
);
CREATE INDEX hunt_group_members_by_station ON hunt_group_members (station);

-- One row: the system options of openapi.yaml with their defaults.
CREATE TABLE system_options (
    singleton                                boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    callback_cancel_timer_s                  integer NOT NULL DEFAULT 3600,
    notification_timeout_s                   integer NOT NULL DEFAULT 20,
    recall_timeout_s                         integer NOT NULL DEFAULT 60,
    command_ttl_s                            integer NOT NULL DEFAULT 300,
    max_per_requester                        integer NOT NULL DEFAULT 10,
    max_per_target                           integer NOT NULL DEFAULT 50,
    digit_collection_during_busy_or_alerting boolean NOT NULL DEFAULT false,
    fac_setup                                text NOT NULL DEFAULT '*41',
    fac_cancel_all                           text NOT NULL DEFAULT '#41',
    fac_cancel_individual                    text NOT NULL DEFAULT '#42',
    updated_at                               timestamptz NOT NULL DEFAULT now()
);
INSERT INTO system_options DEFAULT VALUES;

CREATE TABLE callbacks (
    id                 uuid PRIMARY KEY,
    seq                bigserial NOT NULL UNIQUE, -- queue order on a target (CB-17)
    requester          text NOT NULL,
    target             text NOT NULL,
    target_type        text NOT NULL CHECK (target_type IN ('station', 'trunk_group', 'hunt_group')),
    reason             text NOT NULL CHECK (reason IN ('busy', 'no_answer', 'trunks_busy', 'hunt_group_busy')),
    mode               text NOT NULL CHECK (mode IN ('callback', 'message')),
    state              text NOT NULL CHECK (state IN ('pending', 'notifying', 'recalling', 'queued',
                                                      'message_left', 'completed', 'cancelled', 'expired')),
    origin_line        text NOT NULL,
    notify_line        text NOT NULL,
    notify_station     text,
    external_number    text,
    reserved_line      text,
    awaiting_release   boolean NOT NULL DEFAULT false,
    hook_cycle_needed  boolean NOT NULL DEFAULT false,
    hook_off_seen      boolean NOT NULL DEFAULT false,
    idle_report_needed boolean NOT NULL DEFAULT false,
    lamp_lit           boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    expires_at         timestamptz,
    ended_at           timestamptz,
    end_reason         text CHECK (end_reason IN ('requested', 'cancelled_all', 'no_response', 'call_completed',
                                                  'completed', 'expired', 'superseded', 'recall_failed',
                                                  'station_removed')),
    supersedes         uuid,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- CB-08: never more than one active callback per (requester, target).
CREATE UNIQUE INDEX callbacks_one_active_per_pair ON callbacks (requester, target) WHERE ended_at IS NULL;
-- Active callbacks of a target in queue order, and of a requester (limits, phone list, cancel all).
CREATE INDEX callbacks_active_by_target ON callbacks (target, seq) WHERE ended_at IS NULL;
CREATE INDEX callbacks_active_by_requester ON callbacks (requester, seq) WHERE ended_at IS NULL;
-- Operator lists, newest first, optionally filtered.
CREATE INDEX callbacks_by_created ON callbacks (created_at DESC, id DESC);
CREATE INDEX callbacks_by_requester_created ON callbacks (requester, created_at DESC, id DESC);
CREATE INDEX callbacks_by_target_created ON callbacks (target, created_at DESC, id DESC);
CREATE INDEX callbacks_by_state_created ON callbacks (state, created_at DESC, id DESC);

CREATE TABLE callback_history (
    id          bigserial PRIMARY KEY,
    callback_id uuid NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    cause_kind  text NOT NULL CHECK (cause_kind IN ('api', 'event', 'timer')),
    cause_ref   text NOT NULL
);
CREATE INDEX callback_history_by_callback ON callback_history (callback_id, id);

-- "Call me back at T for X" (CB-52): the worker polls the earliest due.
CREATE TABLE timers (
    kind   text NOT NULL,
    ref    text NOT NULL,
    due_at timestamptz NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX timers_by_due ON timers (due_at);

-- The PBX event inbox (CB-50): stored before the 202, applied once, in arrival order.
CREATE TABLE pbx_events (
    seq         bigserial PRIMARY KEY,
    id          text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 128),
    type        text NOT NULL,
    body        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at  timestamptz,
    outcome     text CHECK (outcome IN ('applied', 'ignored'))
);
CREATE INDEX pbx_events_unapplied ON pbx_events (seq) WHERE applied_at IS NULL;
CREATE INDEX pbx_events_by_applied ON pbx_events (applied_at) WHERE applied_at IS NOT NULL;

-- The command outbox (CB-51): written with the state change, delivered in order per station.
CREATE TABLE commands (
    seq             bigserial PRIMARY KEY,
    id              uuid NOT NULL UNIQUE,
    type            text NOT NULL CHECK (type IN ('ring', 'stop_ring', 'reserve_trunk', 'release_trunk',
                                                  'originate', 'mwi', 'tone')),
    callback_id     uuid,
    order_key       text NOT NULL, -- the station (or trunk group) whose commands keep their order
    body            jsonb NOT NULL, -- the command as POSTed
    created_at      timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX commands_pending ON commands (seq) WHERE status = 'pending';

CREATE TABLE tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hash       bytea NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
    token_id     text NOT NULL, -- tokens.id, or 'admin' for the bootstrap token
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    location     text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
