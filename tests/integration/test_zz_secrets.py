"""Runs last: no auth token (nor key material) used by the suite appears in any Apache
error or access log, the PostgreSQL log, any admin output or any HTTP response seen."""


def test_no_secret_in_logs_outputs_or_responses(capture):
    assert capture.secrets, "no secrets were registered: nothing was checked"
    assert capture.texts, "nothing was captured"
    leaks = capture.leaks()
    assert not leaks, "secrets found:\n" + "\n".join("%s in %s" % l for l in leaks[:50])
