-- A command is rendered once, when it is queued: the body the worker or a request wrote (its
-- type's fields) is completed here with its id, seq and creation time, so that `body` is the
-- command exactly as POSTed to the PBX. The dispatcher sends it as stored on every attempt
-- (db/outbox.c, outbox_due) instead of composing it again. The format of created_at is RFC 3339
-- in UTC with milliseconds, as before. Commands queued earlier and already delivered or failed
-- keep their old body: GET /v1/commands still adds id, seq and created_at (the same values).

CREATE FUNCTION callbackd_commands_render() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.body := NEW.body || jsonb_build_object('id', NEW.id, 'seq', NEW.seq, 'created_at',
        to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
    RETURN NEW;
END
$$;

CREATE TRIGGER commands_render BEFORE INSERT ON commands
    FOR EACH ROW EXECUTE FUNCTION callbackd_commands_render();

-- The commands still to deliver, queued before this migration.
UPDATE commands SET body = body || jsonb_build_object('id', id, 'seq', seq, 'created_at',
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    WHERE status = 'pending';
