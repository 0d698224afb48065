-- Version 12: outbound calls (issue 12): where Twilio reaches a tenant's webhooks, what its
-- assistant says first when it is the one calling, and what it leaves on a machine.

ALTER TABLE companies
    -- The URL the tenant's routes are under, as Twilio reaches them:
    -- {VoxTwilioPublicURL}{Location}/{slug}, e.g. https://calls.example.com/voice/acme.
    -- The helper builds the Url and status callbacks of outbound calls, and the status
    -- callbacks of the messages it sends, from it (it does not see Apache's requests).
    ADD COLUMN webhook_url text
        CHECK (webhook_url ~ '^https?://[^[:space:]/?#]+(/[^[:space:]?#]*)?$'
               AND webhook_url !~ '/$'),
    -- What the assistant says when the callee answers an outbound call (NULL: greeting);
    -- `calls place --greeting` overrides it per call.
    ADD COLUMN outbound_greeting text,
    -- Left on an answering machine (Twilio's answering-machine detection); NULL: hang up.
    ADD COLUMN voicemail_message text,
    -- Minutes of calls per calendar month of the tenant's zone, rounded up per call as
    -- Twilio bills them (NULL: no limit). Past it a new inbound call hears limit_message
    -- (NULL: a default) and is hung up, and no outbound call is placed; a call in progress
    -- is never cut.
    ADD COLUMN monthly_minutes_limit integer CHECK (monthly_minutes_limit > 0),
    ADD COLUMN limit_message text;

-- Twilio's answering-machine verdict on an outbound call (human, machine_end_beep, fax, …).
ALTER TABLE calls ADD COLUMN answered_by text;

-- The inbound statement finds an outbound call's job (its greeting) by the call's sid.
CREATE INDEX jobs_call_sid ON jobs (call_sid) WHERE call_sid IS NOT NULL;
