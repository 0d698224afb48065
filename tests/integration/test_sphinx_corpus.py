"""The offline recognizer (vt_sphinx, through tests/tools/vt_sphinx_probe) on a labelled
corpus: the dental example script's phrases (docs/examples/assistant-dental.json) and the
built-in ones, said alone and inside short carrier sentences, and out-of-grammar speech,
by espeak-ng and flite voices at three speeds, through a phone leg (8 kHz µ-law) clean and
with line noise at 20 dB SNR, each cut as the turn detector cuts it (200 ms before the
speech, 200 ms after).

Scored at the intent level as the helper uses the recognizer: the recognized phrase goes
to the script matcher (a copy of vt_script_match's rule below), the expected intent is
what the matcher gives for the words actually said. For in-grammar speech: correct, wrong
intent, rejected (below the threshold); for out-of-grammar speech: false accepts. Swept
over thresholds; the rule for the default (THRESHOLD_RULE) is applied to the phrases said
alone. The table goes to stdout and $VT_BUILDDIR/sphinx-corpus.md (docs/offline-
recognizer.md reports it); the asserts are floors a bit below what was measured at
VT_SPHINX_THRESHOLD, read from vt_sphinx.h.
"""
import array
import concurrent.futures
import json
import os
import random
import re
import statistics
import struct
import subprocess

import pytest

from pyvt.phone_leg import Timeline, phone_pcm, speak, speech_bounds

HUMAN = ["human", "agent", "representative", "operator", "real person", "speak to someone"]
GOODBYE = ["goodbye", "bye", "that's all", "that is all", "nothing else"]
VOICES = [("espeak", "en-us"), ("espeak", "en-gb"), ("flite", "kal"), ("flite", "slt"),
          ("flite", "rms")]
SPEEDS = [0.85, 1.0, 1.2]
NOISE = [None, 20]
# Each sentence of each kind is said once per voice; speed and noise rotate with the
# sentence and the voice, so every condition is covered without the full product.
CARRIERS = [
    "um, what are your opening hours please",
    "hi, when are you open on saturday",
    "can you tell me your address",
    "where are you located exactly",
    "I need directions to the clinic",
    "how much does it cost",
    "do you take my insurance",
    "I would like to book an appointment",
    "can I schedule a cleaning",
    "I need to cancel appointment for tomorrow",
    "I have a terrible toothache and some bleeding",
    "can I talk to a real person please",
    "no, that's all, thank you",
    "okay goodbye then",
]
OUT_OF_GRAMMAR = [
    "I have a question about my invoice",
    "the weather is nice today",
    "yes",
    "no thank you",
    "hello",
    "my name is John Smith",
    "can you hear me",
    "I am calling about the letter you sent",
    "sorry, what did you say",
    "hmm",
    "okay",
    "I want to pay my bill",
]
NON_SPEECH = ["cough", "burst"]   # a 200 ms cough-like "ah", a 300 ms noise burst
THRESHOLDS = [round(0.01 * i, 2) for i in range(0, 31)]
MAX_FALSE_ACCEPTS = 0.25
THRESHOLD_RULE = ("the highest share of phrases said alone reaching their intent with "
                  "out-of-grammar speech accepted at most %d %% of the time"
                  % (100 * MAX_FALSE_ACCEPTS))


def script(paths):
    with open(os.path.join(paths.srcdir, "docs", "examples", "assistant-dental.json")) as f:
        intents = [(i["name"], i["phrases"]) for i in json.load(f)["intents"]]
    return intents, [("human", HUMAN), ("goodbye", GOODBYE)]


def words(text):
    return re.findall(r"[a-z0-9']+", text.lower())


def match(intents, builtins, text):
    """vt_script_match: the intent whose phrase (its words in order, others between) has
    the most words, the earlier on a tie; the tenant's before the built-ins. None: none."""
    said = words(text or "")
    for group in (intents, builtins):
        best, best_len = None, 0
        for name, phrases in group:
            for ph in phrases:
                w = words(ph)
                it = iter(said)
                if len(w) > best_len and all(x in it for x in w):
                    best, best_len = name, len(w)
        if best:
            return best
    return None


def header_threshold(paths):
    with open(os.path.join(paths.srcdir, "mod_voxtwilio", "core", "vt_sphinx.h")) as f:
        return float(re.search(r"#define VT_SPHINX_THRESHOLD ([0-9.]+)", f.read()).group(1))


def utterance(engine, voice, speed, snr, text, seed):
    """The µ-law the recognizer gets for text: the phone leg, cut like vt_turn cuts it."""
    if text in NON_SPEECH:
        loud = phone_pcm(speak("espeak", "en-us", 1.0, "ah"))
        first, _ = speech_bounds(loud)
        if text == "cough":
            clip = loud[first * 2:(first + 1600) * 2]
        else:   # a burst of white noise at about the speech's level
            rng = random.Random(seed)
            clip = array.array("h", (int(max(-32767, min(32767, rng.gauss(0, 3000))))
                                     for _ in range(2400))).tobytes()
    else:
        clip = phone_pcm(speak(engine, voice, speed, text))
    call = Timeline(noise_snr_db=snr, seed=seed)
    call.silence(0.5)
    call.say(clip)
    call.silence(0.5)
    ulaw = call.ulaw()
    on, off = call.labels[0]
    return ulaw[max(0, on - 200) * 8:(off + 200) * 8]


def build_corpus():
    """[(voice, speed, snr, kind, text, ulaw)]; kind: alone, carrier, oog."""
    jobs = []
    for vi, (engine, voice) in enumerate(VOICES):
        texts = ([("alone", t) for t in PHRASES_ALL] + [("carrier", t) for t in CARRIERS] +
                 [("oog", t) for t in OUT_OF_GRAMMAR + NON_SPEECH])
        for ti, (kind, text) in enumerate(texts):
            speed = SPEEDS[(ti + vi) % len(SPEEDS)]
            snr = NOISE[(ti // len(SPEEDS) + vi) % len(NOISE)]
            jobs.append(("%s-%s" % (engine, voice), engine, voice, speed, snr, kind, text,
                         vi * 1000 + ti))
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        ulaws = list(pool.map(lambda j: utterance(j[1], j[2], j[3], j[4], j[6], j[7]), jobs))
    return [(j[0], j[3], j[4], j[5], j[6], u) for j, u in zip(jobs, ulaws)]


PHRASES_ALL = []   # filled by the corpus fixture: the script's phrases, then the built-ins


def probe(paths, phrases, ulaws):
    """(header, [result per ulaw], trailer) of one vt_sphinx_probe run at threshold 0."""
    exe = os.path.join(paths.builddir, "tests", "tools", "vt_sphinx_probe")
    assert os.path.exists(exe), "%s was not built (make check builds it)" % exe
    listing = os.path.join(paths.builddir, "sphinx-corpus-phrases.txt")
    with open(listing, "w") as f:
        f.write("".join(p + "\n" for p in phrases))
    data = b"".join(struct.pack("<I", len(u)) + u for u in ulaws)
    r = subprocess.run([exe, "--phrases", listing, "--threshold", "0"], input=data,
                       capture_output=True, check=True)
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(lines) == len(ulaws) + 2, r.stderr.decode()
    return lines[0], lines[1:-1], lines[-1]


def run_corpus(paths, corpus, phrases):
    """The probe over the corpus in two processes (one per core), results in order."""
    half = len(corpus) // 2
    parts = [corpus[:half], corpus[half:]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda p: probe(paths, phrases, [c[5] for c in p]), parts))
    return runs[0][0], runs[0][1] + runs[1][1], runs[0][2]


def score(intents, builtins, corpus, results, dropped, t):
    """{(kind, voice or 'all'): counts} at threshold t."""
    out = {}
    for (voice, speed, snr, kind, text, _), r in zip(corpus, results):
        expected = None if kind == "oog" else match(intents, builtins, text)
        if kind == "alone" and text in dropped:
            continue  # never listened for: reported, not scored
        got = match(intents, builtins, r["phrase"]) if (
            r["phrase"] is not None and r["confidence"] >= t) else None
        for key in ((kind, voice), (kind, "all"), (kind, "snr-%s" % snr)):
            c = out.setdefault(key, {"n": 0, "correct": 0, "wrong": 0, "rejected": 0,
                                     "phrase": 0})
            c["n"] += 1
            if expected is None:
                c["wrong" if got else "rejected"] += 1   # wrong: a false accept
            elif got is None:
                c["rejected"] += 1
            elif got == expected:
                c["correct"] += 1
                c["phrase"] += r["phrase"].lower() == text.lower()
            else:
                c["wrong"] += 1
    return out


def pct(a, n):
    return "%.0f %%" % (100.0 * a / n) if n else "-"


def choose(sweep):
    ok = [(s[("alone", "all")]["correct"], -t, t) for t, s in sweep.items()
          if s[("oog", "all")]["wrong"] <= MAX_FALSE_ACCEPTS * s[("oog", "all")]["n"]]
    return max(ok)[2] if ok else None


def report(paths, sweep, chosen, default, head, ms, cpu, dropped):
    s = sweep[default]
    lines = ["At the threshold %.2f:" % default, "",
             "| speech | voice | utterances | right intent | wrong intent | rejected |",
             "|---|---|---|---|---|---|"]
    for kind, label in (("alone", "phrase alone"), ("carrier", "phrase in a sentence"),
                        ("oog", "out of grammar")):
        keys = sorted(k for k in s if k[0] == kind and k[1] != "all") + [(kind, "all")]
        for k in keys:
            c = s[k]
            if kind == "oog":
                lines.append("| %s | %s | %d | - | %s false accepts | %s |" % (
                    label, k[1], c["n"], pct(c["wrong"], c["n"]), pct(c["rejected"], c["n"])))
            else:
                lines.append("| %s | %s | %d | %s | %s | %s |" % (
                    label, k[1], c["n"], pct(c["correct"], c["n"]), pct(c["wrong"], c["n"]),
                    pct(c["rejected"], c["n"])))
    lines += ["", "Threshold sweep (all voices):", "",
              "| threshold | alone: right / wrong / rejected | in a sentence: right / wrong "
              "/ rejected | out of grammar: false accepts |", "|---|---|---|---|"]
    for t in THRESHOLDS:
        if round(t * 100) % 2 and t != default:
            continue
        a, c, o = sweep[t][("alone", "all")], sweep[t][("carrier", "all")], \
            sweep[t][("oog", "all")]
        lines.append("| %.2f%s | %s / %s / %s | %s / %s / %s | %s |" % (
            t, " (default)" if t == default else "", pct(a["correct"], a["n"]),
            pct(a["wrong"], a["n"]), pct(a["rejected"], a["n"]), pct(c["correct"], c["n"]),
            pct(c["wrong"], c["n"]), pct(c["rejected"], c["n"]), pct(o["wrong"], o["n"])))
    lines += ["", "Rule: %s: %s." % (THRESHOLD_RULE, "%.2f" % chosen if chosen is not None
                                     else "none qualifies"),
              "Phrases never listened for (not in the dictionary): %s." % (
                  ", ".join(sorted(dropped)) or "none"),
              "Decoding: %.0f ms p50, %.0f ms p95 wall; %.0f / %.0f ms CPU, per utterance "
              "(%d utterances, mean %.1f s of audio)." % (
                  ms[0], ms[1], cpu[0], cpu[1], ms[2], ms[3]),
              "Decoder: loaded in %.0f ms; RSS +%.1f MB (the first in the process), +%.1f MB "
              "a further one." % (head["load_ms"], (head["rss_created_kb"] -
                                                     head["rss_before_kb"]) / 1024.0,
                                  head["second_rss_kb"] / 1024.0)]
    text = "\n".join(lines)
    print("\noffline recognizer on the corpus:\n" + text)
    with open(os.path.join(paths.builddir, "sphinx-corpus.md"), "w") as f:
        f.write(text + "\n")


@pytest.fixture(scope="module")
def corpus(paths):
    intents, builtins = script(paths)
    PHRASES_ALL[:] = [p for _, ph in intents + builtins for p in ph]
    return intents, builtins, build_corpus()


def evaluate(paths, intents, builtins, corpus):
    phrases = [p for _, ph in intents + builtins for p in ph]
    head, results, tail = run_corpus(paths, corpus, phrases)
    dropped = set(tail["dropped"].split("; ")) if tail["dropped"] else set()
    sweep = {t: score(intents, builtins, corpus, results, dropped, t) for t in THRESHOLDS}
    return head, results, dropped, sweep


def test_recognition_on_the_corpus(paths, corpus):
    intents, builtins, utts = corpus
    head, results, dropped, sweep = evaluate(paths, intents, builtins, utts)
    default = header_threshold(paths)
    shown = default if default in sweep else choose(sweep)
    ms = sorted(r["ms"] for r in results)
    cpu = sorted(r["cpu_ms"] for r in results)
    audio = statistics.mean(len(u[5]) / 8000.0 for u in utts)
    report(paths, sweep, choose(sweep), shown, head,
           (statistics.median(ms), ms[int(0.95 * (len(ms) - 1))], len(ms), audio),
           (statistics.median(cpu), cpu[int(0.95 * (len(cpu) - 1))]), dropped)
    assert default in sweep, "VT_SPHINX_THRESHOLD %s is not in the sweep" % default
    assert_floors(sweep[default])
    # the default is the rule's choice (re-measure and change both when the model does)
    assert abs(choose(sweep) - default) <= 0.03, (choose(sweep), default)
    assert dropped == {"toothache"}, dropped
    assert ms[int(0.95 * (len(ms) - 1))] < 200, ms[-10:]
    assert head["rss_created_kb"] - head["rss_before_kb"] < 64 * 1024, head


def assert_floors(s):
    """Floors at the default threshold, set below what was measured (docs/offline-
    recognizer.md has the figures)."""
    a, c, o = s[("alone", "all")], s[("carrier", "all")], s[("oog", "all")]
    assert a["correct"] >= 0.50 * a["n"], a       # measured 56 %
    assert a["wrong"] <= 0.04 * a["n"], a         # 1 %
    assert c["correct"] >= 0.15 * c["n"], c       # 21 %
    assert o["wrong"] <= 0.25 * o["n"], o         # 19 %
    for voice in ("%s-%s" % v for v in VOICES):
        v = s[("alone", voice)]
        # flite 72-84 %; espeak-ng's voices fit the model worse: 12 % (en-gb), 33 % (en-us)
        assert v["correct"] >= (0.60 if voice.startswith("flite") else 0.08) * v["n"], \
            (voice, v)


def test_the_floors_catch_a_wrong_grammar(paths, corpus):
    """A third of the corpus against another tenant's phrases (the built-ins kept), the
    expected intents still the dental script's: the floors must fail, or they check
    nothing."""
    intents, builtins, utts = corpus
    other = [("orders", ["where is my order", "order status", "my delivery"]),
             ("billing", ["invoice", "payment", "refund"])]
    some = utts[::3]
    _, results, _ = run_corpus(paths, some, [p for _, ph in other + builtins for p in ph])
    s = score(intents + other, builtins, some, results, set(), header_threshold(paths))
    with pytest.raises(AssertionError):
        assert_floors(s)
