"""The gateway's own added latency per LLM turn (issue 4): time in the module minus time
waiting on the model, p50/p99, measured by Apache itself.

A real Apache with the module and a real PostgreSQL; tenants whose assistant is a model,
served by the local OpenAI-compatible stand-in (tests/integration/pyvt/openai_standin.py)
answering at once. Each request is a signed `speech` turn of a call that already has a few
turns of history. Apache logs, per request, `%D` (microseconds from the request's arrival to
the last byte of the answer) and the module's note `%{VT-LLM-Wait-us}n` (microseconds the
turn spent in the model exchange, connection set-up included). The figure is the
difference: request parsing, tenant lookup, signature check, API-key decryption, reading
the history, building the request JSON, parsing the answer, writing the turn and the TwiML.

    /usr/bin/python3 bench/llm_turn.py --build build [--turns 2000] [--concurrency 4]
(bench/run.sh --llm runs it after building.)
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import pyvt  # noqa: E402
from pyvt import openai_standin as oai  # noqa: E402

LOG_FORMAT = 'LogFormat "%D %{VT-LLM-Wait-us}n %>s %U" vtllm'


def log(msg):
    print("[llm-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--history", type=int, default=6, help="turns each call already has")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()

    paths = pyvt.Paths(builddir=a.build, srcdir=SRCDIR)
    work = tempfile.mkdtemp(prefix="vt-llm-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    pg = httpd = model = None
    try:
        pg = pyvt.PgCluster(base_dir=os.path.join(work, "pg"))
        pg.start()
        key_file = os.path.join(work, "voxtwilio.keys")
        admin = pyvt.Admin(paths.admin_bin, pg.conninfo, key_file)
        assert admin.run("keys", "generate", key_file, db=None, key_file=None,
                         api_base=None).rc == 0
        assert admin("migrate").rc == 0
        model = oai.OpenAIStandIn().start()
        tenants = []
        for i in range(a.tenants):
            slug, sid, token = "llm%d" % i, pyvt.new_account_sid(), pyvt.new_auth_token()
            number = pyvt.new_number()
            assert admin("company", "add", slug, "--name", "Bench %d" % i).rc == 0
            assert admin("integration", "add", slug, "--account-sid", sid, "--number", number,
                         input=token + "\n").rc == 0
            r = admin("assistant", "set", slug, "--kind", "llm", "--endpoint", model.base_url,
                      "--model", "bench", "--api-key-file", "-",
                      "--system-prompt", "You are the receptionist of a dental practice.",
                      input=oai.DEMO_KEY + "\n")
            assert r.rc == 0, r
            tenants.append((sid, token, number))
        llm_log = os.path.join(work, "llm_log")
        httpd = pyvt.Apache(paths, pg.conninfo, key_file, root=os.path.join(work, "httpd"),
                            log_level="warn", module_log_level=None,
                            server_extra="\n".join([LOG_FORMAT,
                                                    'CustomLog "%s" vtllm' % llm_log]))
        httpd.start()
        client = pyvt.WebhookClient(httpd.base_url())

        # Calls with some history (greeting + caller/assistant pairs).
        calls = []
        for k in range(a.concurrency * 4):
            sid, token, number = tenants[k % len(tenants)]
            params = pyvt.voice_params(sid, "+14155550100", number)
            assert client.post_signed("/voice/inbound", params, token).status_code == 200
            calls.append([params, token, 1])
        for c in calls:
            for _ in range(a.history // 2):
                turn(client, c, "What are your opening hours?")
        with open(llm_log) as f:
            skip = len(f.readlines())

        log("%d speech turns, %d at a time, over %d calls of %d tenants"
            % (a.turns, a.concurrency, len(calls), a.tenants))
        per_worker = a.turns // a.concurrency
        errors = []

        def worker(mine):
            for i in range(per_worker):
                r = turn(client, mine[i % len(mine)], "Where are you located?")
                if r.status_code != 200 or "<Gather" not in r.text:
                    errors.append(r.status_code)

        threads = [threading.Thread(target=worker, args=(calls[w::a.concurrency],))
                   for w in range(a.concurrency)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        time.sleep(1)
        with open(llm_log) as f:
            lines = [l.split() for l in f.readlines()[skip:]]
        rows = [(int(d), int(w)) for d, w, st, url in lines if url.endswith("/speech")
                and st == "200" and w != "-"]
        total = [d for d, _ in rows]
        wait = [w for _, w in rows]
        own = [d - w for d, w in rows]
        result = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "turns": len(rows), "errors": len(errors), "concurrency": a.concurrency,
            "seconds": round(took, 1), "history_turns": a.history + 1,
            "us": {name: {"p50": pct(v, 50), "p99": pct(v, 99), "mean": int(statistics.mean(v))}
                   for name, v in (("module_minus_model", own), ("model_wait", wait),
                                   ("total", total))},
        }
        log(json.dumps(result))
        os.makedirs(a.results, exist_ok=True)
        with open(os.path.join(a.results, "llm_turn.json"), "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        return 0 if rows and not errors else 1
    finally:
        for x in (httpd, model):
            if x is not None:
                x.stop()
        if pg is not None:
            pg.stop(mode="immediate")
        shutil.rmtree(work, ignore_errors=True)


def turn(client, call, text):
    params, token, t = call
    path = "/voice/speech?t=%d&ni=0&nm=0" % t
    call[2] = t + 1
    return client.post_signed(path, params + [("SpeechResult", text), ("Confidence", "0.9")],
                              token)


if __name__ == "__main__":
    sys.exit(main())
