-- mod_voxtwilio schema, version 1: every table of the design (§4), so later versions
-- extend rather than rewrite. Applied by `voxtwilio-admin migrate` inside one transaction
-- together with its schema_version row.

CREATE TABLE companies (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    enabled             boolean NOT NULL DEFAULT true,
    -- assistant settings
    assistant_mode      text NOT NULL DEFAULT 'gather' CHECK (assistant_mode IN ('gather', 'stream')),
    assistant_kind      text NOT NULL DEFAULT 'script' CHECK (assistant_kind IN ('script', 'llm')),
    greeting            text NOT NULL DEFAULT 'Hello, thank you for calling. How can I help you today?'
                        CHECK (length(greeting) BETWEEN 1 AND 3000),
    voice               text NOT NULL DEFAULT 'Polly.Joanna' CHECK (voice ~ '^[A-Za-z0-9._-]{1,64}$'),
    language            text NOT NULL DEFAULT 'en-US' CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    system_prompt       text,
    escalation_phone    text CHECK (escalation_phone ~ '^\+[1-9][0-9]{1,14}$'),
    notification_phone  text CHECK (notification_phone ~ '^\+[1-9][0-9]{1,14}$'),
    recording           boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A tenant's account with a telephony provider. The auth token is stored sealed:
-- AES-256-GCM(nonce 12 B || ciphertext || tag 16 B), associated data = companies.id as
-- decimal text, under the key named by key_id (see docs/keys.md).
CREATE TABLE client_integrations (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    provider            text NOT NULL DEFAULT 'TWILIO' CHECK (provider IN ('TWILIO')),
    mode                text NOT NULL DEFAULT 'OWN' CHECK (mode IN ('OWN', 'PLATFORM')),
    account_sid         text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    auth_token_enc      bytea NOT NULL CHECK (length(auth_token_enc) > 28),
    key_id              text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    enabled             boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, provider)
);

-- The integration's phone numbers: a number belongs to exactly one integration, which is
-- how an inbound call's `To` finds its tenant.
CREATE TABLE integration_numbers (
    number              text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{1,14}$'),
    integration_id      bigint NOT NULL REFERENCES client_integrations (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integration_numbers_integration ON integration_numbers (integration_id);

CREATE TABLE customers (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    phone               text NOT NULL,
    name                text,
    notes               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, phone)
);

CREATE TABLE calls (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid            text NOT NULL UNIQUE CHECK (call_sid ~ '^CA[0-9a-fA-F]{32}$'),
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    customer_id         bigint REFERENCES customers (id) ON DELETE SET NULL,
    direction           text NOT NULL DEFAULT 'inbound',
    from_number         text,
    to_number           text,
    status              text NOT NULL DEFAULT 'ringing',
    -- status_rank orders statuses so a late callback never moves a call backwards.
    status_rank         smallint NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT now(),
    answered_at         timestamptz,
    ended_at            timestamptz,
    duration_s          integer CHECK (duration_s >= 0),
    escalated           boolean NOT NULL DEFAULT false,
    recording_sid       text,
    recording_url       text,
    recording_duration_s integer,
    transcript          text,
    summary             text,
    sentiment           text CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_company_started ON calls (company_id, started_at DESC);

-- Every webhook delivery about a call, once: dedup_key is Twilio's
-- I-Twilio-Idempotency-Token when sent, else derived from the event's identity.
CREATE TABLE call_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid            text NOT NULL,
    company_id          bigint REFERENCES companies (id) ON DELETE CASCADE,
    kind                text NOT NULL,
    dedup_key           text NOT NULL UNIQUE,
    call_status         text,
    sequence_number     integer,
    params              jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_events_call ON call_events (call_sid, received_at);

CREATE TABLE call_turns (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid            text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq                 integer NOT NULL,
    role                text NOT NULL CHECK (role IN ('caller', 'assistant')),
    text                text NOT NULL,
    confidence          real,
    dedup_key           text UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_sid, seq)
);

CREATE TABLE messages (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id          bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    message_sid         text UNIQUE,
    direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel             text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'whatsapp')),
    from_number         text,
    to_number           text,
    body                text,
    status              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The outbox the helper daemon works through (claimed with FOR UPDATE SKIP LOCKED).
CREATE TABLE jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                text NOT NULL,
    company_id          bigint REFERENCES companies (id) ON DELETE CASCADE,
    call_sid            text,
    payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL DEFAULT 8,
    run_after           timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    dedup_key           text UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_after) WHERE status = 'pending';
