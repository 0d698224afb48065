-- Version 2: conversations (issue 3): the script assistant's document per tenant, per-call
-- miss counters for the no-input / no-match limits, escalation state, and a NOTIFY on new
-- jobs so the helper wakes at once instead of polling.

-- The script assistant (docs/assistant-script.md), validated by `voxtwilio-admin assistant
-- import` before it is stored. NULL: the built-in intents and a generic fallback only.
ALTER TABLE companies ADD COLUMN assistant_script jsonb;

ALTER TABLE calls
    ADD COLUMN no_input_count integer NOT NULL DEFAULT 0,
    ADD COLUMN no_match_count integer NOT NULL DEFAULT 0,
    ADD COLUMN escalation_status text;

CREATE FUNCTION voxtwilio_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('voxtwilio_jobs', NEW.id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION voxtwilio_jobs_notify();
