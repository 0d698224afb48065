"""Synthetic callers for the voice pipeline's tests: a sentence spoken by espeak-ng or
flite, put through a phone leg (8 kHz, µ-law, optional line noise), with the speech's own
start and end as labels.

    pcm8k = phone_pcm(speak("flite", "slt", 1.0, "What are your opening hours?"))
    call = Timeline(noise_snr_db=20, seed=7); call.silence(1.0); call.say(pcm8k); ...
    ulaw, labels = call.ulaw(), call.labels     # labels: [(on_ms, off_ms), ...]

Speed: espeak-ng words per minute scaled from 175, flite's duration stretch inverted; 1.0
is each engine's normal pace. Pure Python plus audioop (deprecated, still in Debian 12's
3.11), so nothing outside Debian's packages.
"""
import array
import os
import random
import subprocess
import tempfile
import wave
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402

RATE = 8000
FRAME = 160  # samples of 20 ms


def speak(engine, voice, speed, text):
    """(pcm16 mono bytes, rate) of text spoken by engine ("espeak" or "flite")."""
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "s.wav")
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", voice, "-s", str(int(175 * speed)), "-w", wav, text]
        elif engine == "flite":
            cmd = ["flite", "-voice", voice, "--setf", "duration_stretch=%.2f" % (1 / speed),
                   "-t", text, "-o", wav]
        else:
            raise ValueError(engine)
        subprocess.run(cmd, check=True, capture_output=True)
        with wave.open(wav) as w:
            assert w.getsampwidth() == 2 and w.getnchannels() == 1
            return w.readframes(w.getnframes()), w.getframerate()


def phone_pcm(spoken):
    """The phone leg's 8 kHz PCM16 of speak()'s output (µ-law is applied by Timeline)."""
    pcm, rate = spoken
    if rate != RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, RATE, None)
    return pcm


def speech_bounds(pcm, window_ms=10, floor_db=-35):
    """(first, last) sample of speech in clean pcm: windows within floor_db of the loudest."""
    w = RATE * window_ms // 1000
    levels = [audioop.rms(pcm[i * 2:(i + w) * 2], 2) for i in range(0, len(pcm) // 2 - w, w)]
    top = max(levels) or 1
    floor = top * 10 ** (floor_db / 20)
    loud = [i for i, v in enumerate(levels) if v >= floor]
    return loud[0] * w, (loud[-1] + 1) * w


class Timeline:
    """A call's inbound audio built from silences and utterances; noise added at the end
    relative to the speech's mean level (None: clean)."""

    def __init__(self, noise_snr_db=None, seed=0):
        self.snr = noise_snr_db
        self.rng = random.Random(seed)
        self.pcm = bytearray()
        self.labels = []
        self._speech_rms = []

    def ms(self):
        return len(self.pcm) // 2 * 1000 // RATE

    def silence(self, seconds):
        self.pcm += bytes(int(RATE * seconds) * 2)

    def say(self, pcm):
        first, last = speech_bounds(pcm)
        base = len(self.pcm) // 2
        self.labels.append(((base + first) * 1000 // RATE, (base + last) * 1000 // RATE))
        self._speech_rms.append(audioop.rms(pcm[first * 2:last * 2], 2))
        self.pcm += pcm

    def ulaw(self):
        """The whole call as µ-law, padded to whole 20 ms frames."""
        pcm = bytes(self.pcm)
        pad = (-len(pcm) // 2) % FRAME
        pcm += bytes(pad * 2)
        if self.snr is not None and self._speech_rms:
            level = sum(self._speech_rms) / len(self._speech_rms)
            noise = _noise(self.rng, len(pcm) // 2, level / 10 ** (self.snr / 20))
            pcm = audioop.add(pcm, noise, 2)
        return audioop.lin2ulaw(pcm, 2)


_UNIT = 1000.0  # sigma of the noise table
_TABLE = array.array("h", (max(-32768, min(32767, int(random.Random(1).gauss(0, _UNIT))))
                           for _ in range(RATE * 7))).tobytes()


def _noise(rng, n, sigma):
    """n samples of white noise of that sigma: the table from a random offset, scaled."""
    start = rng.randrange(len(_TABLE) // 2)
    reps = (n * 2 + start * 2) // len(_TABLE) + 2
    raw = (_TABLE * reps)[start * 2:start * 2 + n * 2]
    return audioop.mul(raw, 2, sigma / _UNIT)
