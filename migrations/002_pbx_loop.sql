-- The PBX loop (CB-51): wake the command dispatcher as soon as a transaction that wrote commands
-- commits, whoever wrote them (the worker applying events, an API request), in whichever
-- process; and find the first pending command of each station quickly (order per station).

CREATE FUNCTION callbackd_commands_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbackd_commands', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER commands_notify AFTER INSERT ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_commands_notify();

-- The dispatcher: is there an earlier pending command for the same order key?
CREATE INDEX commands_pending_by_order_key ON commands (order_key, seq) WHERE status = 'pending';
