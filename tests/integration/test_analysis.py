"""The post-call analysis (issue 4): a call that becomes 'completed' queues exactly one
call_analysis job (a trigger), and voxtwilio-helper fills in the call's summary, sentiment
and to-dos; offline for a script tenant, and offline too when the tenant's model cannot be
reached. `voxtwilio-admin calls show` prints the analysis. (The model's own answers are
tested with an OpenAI stand-in elsewhere.)"""
import json
import os
import re
import subprocess

from test_callbacks import STATUS, status_params
from test_conversation import Call

COMPLAINT = "My heater is broken again and I am really angry about it."
CALLBACK = "Please call me back this afternoon."


def run_helper(paths, pg, key_file, standin):
    """The real voxtwilio-helper, once over the outbox; returns its log (stderr)."""
    exe = os.path.join(paths.builddir, "voxtwilio-helper")
    r = subprocess.run([exe, "--db", pg.conninfo, "--key-file", key_file,
                        "--api-base", standin.base_url, "--log-level", "debug", "--once"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stderr


def complete(client, t, call, seq=2, duration="37"):
    r = client.post_signed(STATUS, status_params(t, call.p, "completed", seq,
                                                 CallDuration=duration), t.token)
    assert r.status_code == 204, r.text


def analysis_jobs(pg, sid):
    return pg.psql("SELECT status, attempts, payload::text FROM jobs"
                   " WHERE kind = 'call_analysis' AND call_sid = '%s'" % sid)


def analysis(pg, sid):
    rows = pg.psql("SELECT summary, sentiment, todos::text, analysis_source,"
                   " analyzed_at IS NOT NULL, analyzed_at::text FROM calls"
                   " WHERE call_sid = '%s'" % sid)
    assert len(rows) == 1, rows
    summary, sentiment, todos, source, stamped, at = rows[0]
    return dict(summary=summary, sentiment=sentiment,
                todos=json.loads(todos) if todos else None, source=source,
                stamped=stamped == "t", at=at)


def complaining_call(client, t):
    call = Call(client, t)
    call.start()
    call.say(COMPLAINT)
    call.say(CALLBACK)
    return call


def test_completed_call_is_analysed_offline(tenant, client, pg, admin, paths, key_file,
                                            standin):
    t = tenant()
    call = complaining_call(client, t)
    assert analysis_jobs(pg, call.sid) == []  # not before the call has completed
    complete(client, t, call)
    jobs = analysis_jobs(pg, call.sid)
    assert [j[0] for j in jobs] == ["pending"], jobs

    log = run_helper(paths, pg, key_file, standin)
    a = analysis(pg, call.sid)
    assert a["source"] == "offline" and a["stamped"], a
    assert a["sentiment"] == "negative", a
    assert a["summary"] == "Caller said: %s 2 caller turns." % COMPLAINT, a
    assert a["todos"] == [CALLBACK], a
    status, attempts, payload = analysis_jobs(pg, call.sid)[0]
    assert (status, attempts) == ("done", "1")
    assert json.loads(payload) == {"source": "offline"}
    assert re.search(r"job \d+ \(call_analysis, company %s, call %s\): done in \d+ ms: "
                     r"offline analysis: negative, 1 to-do" % (t.slug, call.sid), log), log

    show = admin("calls", "show", call.sid)
    assert show.rc == 0, show
    out = show.out
    assert re.search(r"^summary\s+Caller said: My heater is broken again", out, re.M), out
    assert re.search(r"^sentiment\s+negative$", out, re.M), out
    assert re.search(r"^analysis\s+offline at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", out, re.M), out
    todos = out.split("\nto-dos:\n")[1].split("\n\n")[0].splitlines()
    assert todos == ["- " + CALLBACK], out
    # the lines that were there before the analysis are unchanged
    assert re.search(r"^status\s+completed$", out, re.M), out
    assert re.search(r"^escalated\s+no$", out, re.M), out
    assert "caller: %s (confidence 0.92)" % COMPLAINT in out, out
    assert out.index("to-dos:") < out.index("status history:") < out.index("transcript:")

    # Twilio delivers 'completed' again (a retry, another token): no second job, and the
    # analysis stays as it was
    complete(client, t, call, duration="38")
    complete(client, t, call, seq=3)
    assert len(analysis_jobs(pg, call.sid)) == 1
    run_helper(paths, pg, key_file, standin)
    assert analysis(pg, call.sid)["at"] == a["at"]


def test_unanalysed_and_silent_calls(tenant, client, pg, admin, paths, key_file, standin):
    t = tenant()
    live = Call(client, t)
    live.start()
    live.say("What are your opening hours?")
    show = admin("calls", "show", live.sid)
    assert show.rc == 0, show
    assert "to-dos" not in show.out and not re.search(r"^analysis\s", show.out, re.M), show

    silent = Call(client, t)
    silent.start()
    complete(client, t, silent, duration="3")
    run_helper(paths, pg, key_file, standin)
    a = analysis(pg, silent.sid)
    assert (a["summary"], a["sentiment"], a["todos"], a["source"]) == \
        ("The caller said nothing.", "neutral", [], "offline"), a
    show = admin("calls", "show", silent.sid)
    assert "\nto-dos: none\n" in show.out, show
    assert analysis(pg, live.sid)["source"] is None


def test_deleted_call_job_is_done(tenant, pg, paths, key_file, standin):
    t = tenant()
    sid = "CA" + "0" * 24 + os.urandom(4).hex()
    # an operator's UPDATE (or any other path) completing a call queues the job too
    pg.psql("INSERT INTO calls (call_sid, company_id, status) VALUES ('%s', %d, 'ringing')"
            % (sid, t.company_id))
    pg.psql("UPDATE calls SET status = 'completed' WHERE call_sid = '%s'" % sid)
    assert [j[0] for j in analysis_jobs(pg, sid)] == ["pending"]
    pg.psql("DELETE FROM calls WHERE call_sid = '%s'" % sid)
    log = run_helper(paths, pg, key_file, standin)
    status, attempts, payload = analysis_jobs(pg, sid)[0]
    assert (status, attempts, json.loads(payload)) == ("done", "1", {}), log
    assert "the call no longer exists" in log, log


def test_unreachable_model_falls_back_offline(tenant, client, pg, admin, paths, key_file,
                                              standin):
    t = tenant()
    call = complaining_call(client, t)
    # the tenant switches to a model that is down by the time the job runs
    pg.psql("UPDATE companies SET assistant_kind = 'llm',"
            " llm_base_url = 'http://127.0.0.1:9/v1', llm_model = 'test-model'"
            " WHERE id = %d" % t.company_id)
    complete(client, t, call)
    log = run_helper(paths, pg, key_file, standin)
    a = analysis(pg, call.sid)
    assert (a["source"], a["sentiment"], a["todos"]) == ("offline", "negative", [CALLBACK]), a
    status, _, payload = analysis_jobs(pg, call.sid)[0]
    payload = json.loads(payload)
    assert status == "done" and payload["source"] == "offline", payload
    assert payload["model_error"], payload
    warn = [l for l in log.splitlines() if "[voxtwilio-helper:warn]" in l and call.sid in l]
    assert len(warn) == 1 and "using the offline analysis" in warn[0], log
    assert re.search(r"call %s\): done in \d+ ms: offline analysis: negative, 1 to-do "
                     r"\(the model failed: " % call.sid, log), log
