-- Version 4: stream mode (issue 9). A tenant in stream mode talks to its callers over
-- Twilio Media Streams through voxtwilio-helper: to a realtime speech-to-speech model behind
-- any OpenAI-Realtime-compatible WebSocket, or, without one, offline (espeak-ng and a DTMF
-- menu). Each call records its one stream and how it ended, which the <Connect action>
-- route (stream-end) reads to decide what the caller hears next.

-- realtime_key_enc: AES-256-GCM(nonce 12 B || ciphertext || tag 16 B), associated data =
-- companies.id as decimal text, under the key named by realtime_key_id, exactly as the auth
-- token and the chat model's key. NULL: the endpoint takes no key (a local server).
ALTER TABLE companies
    ADD COLUMN realtime_url       text CHECK (realtime_url ~ '^wss?://[^[:space:]?#]+$'
                                              AND length(realtime_url) <= 500),
    ADD COLUMN realtime_model     text CHECK (realtime_model ~ '^[^[:space:][:cntrl:]&#]+$'
                                              AND length(realtime_model) <= 200),
    ADD COLUMN realtime_voice     text CHECK (realtime_voice ~ '^[A-Za-z0-9._-]{1,64}$'),
    ADD COLUMN realtime_dialect   text NOT NULL DEFAULT 'ga'
                                  CHECK (realtime_dialect IN ('ga', 'beta')),
    ADD COLUMN realtime_audio     text NOT NULL DEFAULT 'pcmu'
                                  CHECK (realtime_audio IN ('pcmu', 'pcm16')),
    -- The model that transcribes the caller for the call log; NULL: no caller transcript.
    ADD COLUMN realtime_transcription text DEFAULT 'gpt-4o-mini-transcribe'
                                  CHECK (realtime_transcription ~ '^[^[:space:][:cntrl:]]{1,100}$'),
    ADD COLUMN realtime_key_enc   bytea CHECK (length(realtime_key_enc) > 28),
    ADD COLUMN realtime_key_id    text CHECK (realtime_key_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    ADD CONSTRAINT companies_realtime_key_pair
        CHECK ((realtime_key_enc IS NULL) = (realtime_key_id IS NULL)),
    ADD CONSTRAINT companies_realtime_complete
        CHECK ((realtime_url IS NULL) = (realtime_model IS NULL));

-- stream_outcome, written by the helper before it closes the stream:
--   transfer  the assistant hands the caller to the tenant's human
--   hangup    the conversation is over (the goodbye was heard)
--   failed    the backend failed; the caller already heard an apology
-- NULL when the stream never started or its helper died: stream-end apologizes itself.
ALTER TABLE calls
    ADD COLUMN stream_sid         text UNIQUE CHECK (stream_sid ~ '^MZ[0-9a-fA-F]{32}$'),
    ADD COLUMN stream_backend     text CHECK (stream_backend IN ('realtime', 'offline')),
    ADD COLUMN stream_started_at  timestamptz,
    ADD COLUMN stream_ended_at    timestamptz,
    ADD COLUMN stream_outcome     text CHECK (stream_outcome IN ('transfer', 'hangup', 'failed')),
    ADD COLUMN barge_ins          integer NOT NULL DEFAULT 0;

-- An assistant turn the caller interrupted: its text is what the caller heard (cut where
-- the audio was cut), and heard_ms how much of its audio played.
ALTER TABLE call_turns
    ADD COLUMN interrupted        boolean NOT NULL DEFAULT false,
    ADD COLUMN heard_ms           integer CHECK (heard_ms >= 0);
