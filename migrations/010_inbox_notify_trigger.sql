-- The worker is woken the way the dispatcher is (migration 002): by a trigger on the table it
-- watches, whoever writes it, rather than by a pg_notify written into the webhook's statement.
-- Statement-level, once per batch, and only when the batch stored a new event (a batch of
-- duplicates wakes nobody).
CREATE FUNCTION callbackd_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM stored) THEN
        PERFORM pg_notify('callbackd_events', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pbx_events_notify AFTER INSERT ON pbx_events
    REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_events_notify();
