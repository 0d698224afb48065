-- Version 6: recordings of stream calls transcribed (issue 10). A stream call of a tenant
-- with recording on is recorded in two channels (<Start><Recording channels="dual">: the
-- caller, the assistant); after the download, a recording_transcribe job sends each
-- channel's utterances to the tenant's speech-to-text endpoint and stores the dialogue
-- here, and the post-call analysis runs on it. docs/voice-pipeline.md, "Recordings of
-- stream calls".

-- recording_transcript: [{"speaker": "caller"|"assistant", "start_ms": 1200,
-- "text": "..."}, ...] in the order spoken. transcript_status:
--   done     every utterance transcribed
--   partial  the time budget ran out: the first part of the call only
--   failed   the endpoint failed (transcript_error says how; the job retries)
--   mono     a one-channel recording: who said what is unknown, not transcribed
-- NULL: no transcript was made (yet).
-- analysis_input: what the analysis read, the call's turns or the recording's transcript.
ALTER TABLE calls
    ADD COLUMN recording_transcript jsonb
                                CHECK (jsonb_typeof(recording_transcript) = 'array'),
    ADD COLUMN transcript_status text
                                CHECK (transcript_status IN ('done', 'partial', 'failed', 'mono')),
    ADD COLUMN transcript_error  text CHECK (length(transcript_error) <= 300),
    ADD COLUMN transcribed_at    timestamptz,
    ADD COLUMN analysis_input    text CHECK (analysis_input IN ('turns', 'recording'));

-- The analysis of a call whose transcript is coming waits for it: a stream call (the only
-- kind recorded) of a tenant that records and has a speech-to-text endpoint, without a
-- transcript yet, gets its job due 5 minutes after the call ended. The transcription wakes
-- it as soon as the transcript is stored or has failed; if the recording never comes, the
-- turns are analysed then. One job per call, as before.
CREATE OR REPLACE FUNCTION voxtwilio_call_completed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    waits boolean;
BEGIN
    SELECT co.recording AND co.stt_url IS NOT NULL INTO waits
        FROM companies co WHERE co.id = NEW.company_id;
    waits := coalesce(waits, false) AND NEW.stream_sid IS NOT NULL
             AND NEW.transcript_status IS NULL;
    INSERT INTO jobs (kind, company_id, call_sid, dedup_key, run_after)
        VALUES ('call_analysis', NEW.company_id, NEW.call_sid, 'call_analysis:' || NEW.call_sid,
                CASE WHEN waits
                     THEN greatest(now(), coalesce(NEW.ended_at, now()) + interval '5 minutes')
                     ELSE now() END)
        ON CONFLICT (dedup_key) DO NOTHING;
    RETURN NEW;
END
$$;
