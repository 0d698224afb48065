-- Version 8: the offline recognizer's acceptance threshold per tenant (issue 10). An
-- utterance pocketsphinx matches with a confidence below it is a no-match. NULL: the
-- built-in default (VT_SPHINX_THRESHOLD, chosen on the corpus of
-- tests/integration/test_sphinx_corpus.py; docs/offline-recognizer.md).
ALTER TABLE companies
    ADD COLUMN recognizer_confidence real
        CHECK (recognizer_confidence >= 0 AND recognizer_confidence <= 1);
