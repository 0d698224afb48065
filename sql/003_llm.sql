-- Version 3: the LLM assistant (issue 4): per-tenant model settings with the API key sealed
-- like the Twilio auth token, extra languages with a voice each, and the post-call analysis
-- (summary, sentiment, to-dos) that a job fills in once a call has completed.

-- llm_api_key_enc: AES-256-GCM(nonce 12 B || ciphertext || tag 16 B), associated data =
-- companies.id as decimal text, under the key named by llm_key_id (docs/keys.md), exactly
-- as client_integrations.auth_token_enc. NULL: the endpoint needs no key (a local server).
ALTER TABLE companies
    ADD COLUMN llm_base_url     text CHECK (llm_base_url ~ '^https?://[^[:space:]]+$'
                                            AND length(llm_base_url) <= 500),
    ADD COLUMN llm_model        text CHECK (llm_model ~ '^[^[:space:][:cntrl:]]+$'
                                            AND length(llm_model) <= 200),
    ADD COLUMN llm_api_key_enc  bytea CHECK (length(llm_api_key_enc) > 28),
    ADD COLUMN llm_key_id       text CHECK (llm_key_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    ADD COLUMN llm_temperature  real NOT NULL DEFAULT 0.3
                                CHECK (llm_temperature >= 0 AND llm_temperature <= 2),
    ADD COLUMN llm_max_tokens   integer NOT NULL DEFAULT 200
                                CHECK (llm_max_tokens BETWEEN 16 AND 4096),
    -- Languages besides the primary (companies.language with companies.voice), in order:
    -- [{"language": "es-ES", "voice": "Polly.Lucia"}, ...]. Validated by voxtwilio-admin.
    ADD COLUMN languages        jsonb NOT NULL DEFAULT '[]'::jsonb
                                CHECK (jsonb_typeof(languages) = 'array'),
    ADD CONSTRAINT companies_llm_key_pair
        CHECK ((llm_api_key_enc IS NULL) = (llm_key_id IS NULL)),
    ADD CONSTRAINT companies_llm_complete
        CHECK (assistant_kind <> 'llm' OR (llm_base_url IS NOT NULL AND llm_model IS NOT NULL));

ALTER TABLE calls
    ADD COLUMN todos            jsonb,
    ADD COLUMN analysis_source  text CHECK (analysis_source IN ('llm', 'offline')),
    ADD COLUMN analyzed_at      timestamptz;

-- A completed call gets one post-call analysis job, whichever path completed it (a status
-- callback, the spool replay, an operator's UPDATE).
CREATE FUNCTION voxtwilio_call_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobs (kind, company_id, call_sid, dedup_key)
        VALUES ('call_analysis', NEW.company_id, NEW.call_sid, 'call_analysis:' || NEW.call_sid)
        ON CONFLICT (dedup_key) DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER calls_completed_update AFTER UPDATE OF status ON calls
    FOR EACH ROW WHEN (NEW.status = 'completed' AND OLD.status IS DISTINCT FROM 'completed')
    EXECUTE FUNCTION voxtwilio_call_completed();
CREATE TRIGGER calls_completed_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.status = 'completed')
    EXECUTE FUNCTION voxtwilio_call_completed();
