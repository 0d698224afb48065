-- Version 11: a tenant's automations (issue 12): its rules document, the log of every
-- rule run, the consent ledger, the tenant's time zone and its customers' tags.

-- An IANA name ("Europe/Paris"); `voxtwilio-admin company set --time-zone` checks it
-- against pg_timezone_names (a CHECK cannot: the names come from the server's tzdata).
-- Business hours and calling windows are read in it.
ALTER TABLE companies ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

-- One document per tenant (vt_rules.h), checked whole by `voxtwilio-admin rules import`
-- before it replaces the previous one; json, not jsonb, so it is exported as written.
CREATE TABLE rule_sets (
    company_id          bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    document            json NOT NULL,
    imported_by         text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Every run of a rule, once per rule and event (the MessageSid or CallSid that set it
-- off): a redelivered webhook finds its run and queues nothing again.
CREATE TABLE rule_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    rule_name           text NOT NULL,
    trigger             text NOT NULL,
    subject             text NOT NULL,
    customer_phone      text,
    -- done: every action done or queued; partial: some skipped (detail says why)
    outcome             text NOT NULL CHECK (outcome IN ('done', 'partial', 'skipped')),
    detail              text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, rule_name, subject)
);
CREATE INDEX rule_runs_company_created ON rule_runs (company_id, created_at DESC);

-- The consent ledger: who agreed or refused, on which channel, when and how. The latest
-- row of (company, phone, channel) is the state; nothing is ever deleted. channel 'voice'
-- is consent to be called (campaigns require it).
CREATE TABLE consent_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    phone               text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    channel             text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'voice')),
    granted             boolean NOT NULL,
    -- 'keyword STOP' (the customer's message), 'admin' (voxtwilio-admin consent), …
    method              text NOT NULL CHECK (length(method) BETWEEN 1 AND 200),
    source_sid          text,           -- the message that said it
    note                text,
    recorded_by         text,           -- the admin user, for method 'admin'
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- A redelivered STOP is one entry.
CREATE UNIQUE INDEX consent_events_source ON consent_events (source_sid)
    WHERE source_sid IS NOT NULL;
CREATE INDEX consent_events_state ON consent_events (company_id, phone, channel, id DESC);

ALTER TABLE customers
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
    -- The message (or call) that created the customer: a redelivery of it still finds the
    -- customer new.
    ADD COLUMN first_seen_sid text;

-- An outbound message's progress (POST message-status): the row only moves forward
-- (queued 2 < sending 3 < sent 4 < delivered, undelivered, failed 5 < read 6), whatever
-- order Twilio's callbacks arrive in, with Twilio's error code when it failed.
ALTER TABLE messages
    ADD COLUMN status_rank  smallint NOT NULL DEFAULT 0,
    ADD COLUMN error_code   integer;

-- A tenant that keeps its messages' media (company set --keep-media on): each inbound
-- message with media queues a media_download job; the helper stores the files with the
-- tenant's credentials and adds their "path" to messages.media.
ALTER TABLE companies ADD COLUMN keep_media boolean NOT NULL DEFAULT false;
