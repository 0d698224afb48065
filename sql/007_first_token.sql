-- Version 7: the voice pipeline's model answer is streamed (issue 10): the time of its first
-- token is a stage of its own, in ms from the end of the caller's speech like the others
-- (answer_ms stays the whole answer, which may now come after the first audio).
ALTER TABLE call_turns
    ADD COLUMN first_token_ms     integer CHECK (first_token_ms >= 0);
