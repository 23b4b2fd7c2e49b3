-- A class of service's Callbacks Allowed turned on or off is a change of every station of that
-- class, not only of those presenting a softkey: the station's representation (and so its
-- stream event) carries `callbacks_allowed`, which a phone app shows as "callbacks are not
-- allowed on this phone". One change row per station of the class, in the writing transaction.

CREATE OR REPLACE FUNCTION callbackd_stream_cos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stream_changes (kind, key, station, data)
    SELECT 'station', s.number, s.number,
           to_jsonb(s) || jsonb_build_object('callbacks_allowed', NEW.callbacks_allowed)
    FROM stations s WHERE s.cos = NEW.id
    ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                               station = EXCLUDED.station;
    RETURN NULL;
END
$$;
