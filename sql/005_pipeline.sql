-- Version 5: the voice pipeline of stream mode (issue 10). A stream-mode tenant without a
-- realtime model hears its callers through turn detection, speech-to-text and its assistant,
-- and answers through text-to-speech: any OpenAI-compatible /audio/transcriptions and
-- /audio/speech endpoint, or offline (no speech-to-text: the DTMF menu; espeak-ng).
-- docs/voice-pipeline.md.

-- stt_key_enc, tts_key_enc: AES-256-GCM(nonce 12 B || ciphertext || tag 16 B), associated
-- data = companies.id as decimal text, under the key named by *_key_id, exactly as the
-- other model keys. NULL: the endpoint takes no key (a local server).
ALTER TABLE companies
    ADD COLUMN stt_url            text CHECK (stt_url ~ '^https?://[^[:space:]?#]+$'
                                              AND length(stt_url) <= 500),
    ADD COLUMN stt_model          text CHECK (stt_model ~ '^[^[:space:][:cntrl:]&#]+$'
                                              AND length(stt_model) <= 200),
    ADD COLUMN stt_key_enc        bytea CHECK (length(stt_key_enc) > 28),
    ADD COLUMN stt_key_id         text CHECK (stt_key_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    ADD COLUMN tts_url            text CHECK (tts_url ~ '^https?://[^[:space:]?#]+$'
                                              AND length(tts_url) <= 500),
    ADD COLUMN tts_model          text CHECK (tts_model ~ '^[^[:space:][:cntrl:]&#]+$'
                                              AND length(tts_model) <= 200),
    ADD COLUMN tts_voice          text CHECK (tts_voice ~ '^[A-Za-z0-9._-]{1,64}$'),
    ADD COLUMN tts_format         text NOT NULL DEFAULT 'pcm'
                                  CHECK (tts_format IN ('pcm', 'wav')),
    ADD COLUMN tts_key_enc        bytea CHECK (length(tts_key_enc) > 28),
    ADD COLUMN tts_key_id         text CHECK (tts_key_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    -- Silence that ends the caller's utterance, and the speech that cuts the assistant.
    ADD COLUMN end_silence_ms     integer NOT NULL DEFAULT 500
                                  CHECK (end_silence_ms BETWEEN 200 AND 3000),
    ADD COLUMN barge_in_ms        integer NOT NULL DEFAULT 250
                                  CHECK (barge_in_ms BETWEEN 60 AND 2000),
    -- The longest the caller waits in silence for a reply before a filler is spoken.
    ADD COLUMN reply_budget_ms    integer NOT NULL DEFAULT 2500
                                  CHECK (reply_budget_ms BETWEEN 500 AND 20000),
    ADD CONSTRAINT companies_stt_key_pair CHECK ((stt_key_enc IS NULL) = (stt_key_id IS NULL)),
    ADD CONSTRAINT companies_tts_key_pair CHECK ((tts_key_enc IS NULL) = (tts_key_id IS NULL)),
    ADD CONSTRAINT companies_stt_complete CHECK ((stt_url IS NULL) = (stt_model IS NULL)),
    ADD CONSTRAINT companies_tts_complete CHECK ((tts_url IS NULL) = (tts_model IS NULL));

ALTER TABLE calls DROP CONSTRAINT calls_stream_backend_check;
ALTER TABLE calls ADD CONSTRAINT calls_stream_backend_check
    CHECK (stream_backend IN ('realtime', 'offline', 'pipeline'));

-- The stages of an assistant turn of the pipeline, in ms from the end of the caller's
-- speech (as the helper detected it): the transcript, the model's answer, the first audio
-- synthesized, the first frame sent to Twilio. NULL: the stage did not happen.
ALTER TABLE call_turns
    ADD COLUMN transcript_ms      integer CHECK (transcript_ms >= 0),
    ADD COLUMN answer_ms          integer CHECK (answer_ms >= 0),
    ADD COLUMN audio_ms           integer CHECK (audio_ms >= 0),
    ADD COLUMN reply_ms           integer CHECK (reply_ms >= 0);
