-- A PBX event is validated and parsed once, by the webhook, and stored in the form the worker
-- applies: these columns hold its parsed fields (db/inbox.c reads them back into the core's
-- struct cb_event; nothing is parsed again). `body` keeps the event as the PBX sent it, for the
-- record. The words of the enumerations are the wire's (station.feature's `feature`,
-- call.attempt's `result`, recall.result's `result`, digits' `call_state`). Events stored
-- before this migration have `parsed` false: the worker parses their body, as it did then.
ALTER TABLE pbx_events
    ADD COLUMN parsed      boolean NOT NULL DEFAULT false,
    ADD COLUMN station     text,
    ADD COLUMN flag        boolean NOT NULL DEFAULT false,
    ADD COLUMN feature     text,
    ADD COLUMN forward_to  text,
    ADD COLUMN trunk_group text,
    ADD COLUMN line        text,
    ADD COLUMN from_number text,
    ADD COLUMN to_number   text,
    ADD COLUMN attempt     text,
    ADD COLUMN parties     text[],
    ADD COLUMN conference  boolean NOT NULL DEFAULT false,
    ADD COLUMN callback_id uuid,
    ADD COLUMN recall      text,
    ADD COLUMN digits      text,
    ADD COLUMN call_state  text,
    ADD COLUMN dialed      text;
