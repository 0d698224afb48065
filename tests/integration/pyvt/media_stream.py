"""Plays Twilio's side of a bidirectional Media Stream (twilio-protocol.md §12) for
stream-mode tests: the signed upgrade, connected and start, 20 ms µ-law frames paced on a
monotonic clock, DTMF, stop; and Twilio's playback of what the gateway sends: media plays
in real time, a mark is echoed when playback reaches it, clear empties the buffer and
echoes every pending mark at once. Everything received is recorded with monotonic times.

    s = TwilioStream(apache, stream_url, tenant, call_sid, params={"From": ...}).start()
    s.wait_for(lambda s: s.played_ms > 500)
    s.send_audio(speech_ulaw("I need a person"))
    s.dtmf("1"); s.hangup()
"""
import asyncio
import audioop
import base64
import json
import os
import subprocess
import tempfile
import threading
import time
import wave

import websockets

from .twilio import TwilioSigner, random_hex

FRAME = 160          # 20 ms of 8 kHz µ-law
SILENCE = b"\xff" * FRAME


def speech_ulaw(text, speed=175):
    """text spoken by espeak-ng, as 8 kHz µ-law (the phone leg)."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-s", str(speed), "-w", f.name, text], check=True,
                       capture_output=True)
        with wave.open(f.name) as w:
            pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    pcm, _ = audioop.ratecv(pcm, 2, 1, rate, 8000, None)
    return audioop.lin2ulaw(pcm, 2)


def tone_ulaw(ms, amplitude=8000, freq=300):
    import math
    n = 8 * ms
    pcm = b"".join(int(amplitude * math.sin(2 * math.pi * freq * i / 8000)).to_bytes(
        2, "little", signed=True) for i in range(n))
    return audioop.lin2ulaw(pcm, 2)


class TwilioStream:
    """One stream, run in a thread of its own (asyncio loop)."""

    def __init__(self, apache, url, tenant, call_sid, params=None, signature=None,
                 extra_headers=(), connect_url=None):
        self.url = url                      # the wss:// URL from the TwiML: what is signed
        # where the socket goes: Apache by default, the helper's direct listener if given
        self.connect_url = connect_url or "ws://127.0.0.1:%d/%s" % (apache.port,
                                                                     url.split("/", 3)[3])
        self.t = tenant
        self.call_sid = call_sid
        self.params = params or {}
        self.signature = signature if signature is not None else \
            TwilioSigner.sign(tenant.token, url)
        self.extra = list(extra_headers)
        self.stream_sid = "MZ" + random_hex(32)
        self.received = []                  # (time, message dict)
        self.errors = []                    # Twilio error codes it would log
        self.outbound = []                  # queued (kind, payload) for the sender
        self.playback = []                  # [bytes or ("mark", name)] not played yet
        self.played = bytearray()           # what the caller heard
        self.sound_log = []                 # (time, 1 if that 20 ms had sound) per frame
        self.caller = bytearray()           # what the caller sent
        self.clears = []                    # times of clear
        self.marks_echoed = []
        self.status = None                  # HTTP status of a refused upgrade
        self.close_code = None
        self.closed_at = None
        self.opened = threading.Event()
        self.done = threading.Event()
        self._stop = False
        self._hangup = False
        self.loop = None
        self.seq = 0
        self.lock = threading.Lock()

    # ------------------------------------------------------------ control (any thread)
    def start(self, wait=True):
        threading.Thread(target=self._thread, daemon=True).start()
        if wait:
            self.opened.wait(10)
        return self

    def send_audio(self, ulaw):
        with self.lock:
            self.outbound.append(("audio", ulaw))

    def dtmf(self, digit):
        with self.lock:
            self.outbound.append(("dtmf", digit))

    def hangup(self):
        self._hangup = True

    def wait_for(self, pred, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return True
            time.sleep(0.01)
        raise TimeoutError("%s not met within %ss; received %s" % (
            what, timeout, [m.get("event") for _, m in self.received][-30:]))

    def wait_closed(self, timeout=15):
        return self.done.wait(timeout)

    # ------------------------------------------------------------ what happened
    def events(self, name=None):
        return [m for _, m in self.received if name is None or m.get("event") == name]

    def times(self, name):
        return [t for t, m in self.received if m.get("event") == name]

    @property
    def played_ms(self):
        return len(self.played) // 8

    def sound_after(self, t):
        """When playback first reached non-silent audio at or after monotonic time t."""
        for when, loud in self.sound_log:
            if when >= t and loud:
                return when
        return None

    def heard_anything(self):
        return any(b != 0xff for b in self.played)

    def write_wav(self, path):
        n = max(len(self.caller), len(self.played))
        left = audioop.ulaw2lin(bytes(self.caller).ljust(n, b"\xff"), 2)
        right = audioop.ulaw2lin(bytes(self.played).ljust(n, b"\xff"), 2)
        with wave.open(path, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(8000)
            frames = bytearray()
            for i in range(0, len(left), 2):
                frames += left[i:i + 2] + right[i:i + 2]
            w.writeframes(bytes(frames))

    # ------------------------------------------------------------ the stream
    def _msg(self, event, **body):
        self.seq += 1
        m = {"event": event, "sequenceNumber": str(self.seq), "streamSid": self.stream_sid}
        m.update(body)
        return json.dumps(m)

    def _thread(self):
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._run())
        finally:
            self.done.set()
            self.opened.set()

    async def _run(self):
        headers = list(self.extra)
        if self.signature:
            headers.append(("X-Twilio-Signature", self.signature))
        try:
            ws = await websockets.connect(self.connect_url, extra_headers=headers,
                                          open_timeout=10, compression=None, max_size=None)
        except websockets.exceptions.InvalidStatusCode as e:
            self.status = e.status_code
            return
        self.status = 101
        self.opened.set()
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        self.seq = 0
        await ws.send(self._msg("start", start={
            "accountSid": self.t.account_sid, "streamSid": self.stream_sid,
            "callSid": self.call_sid, "tracks": ["inbound"], "customParameters": self.params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}))
        recv = asyncio.ensure_future(self._receiver(ws))
        try:
            await self._sender(ws)
        finally:
            recv.cancel()
            self.closed_at = self.closed_at or time.monotonic()
            self.close_code = self.close_code or ws.close_code

    async def _sender(self, ws):
        """A frame every 20 ms on a monotonic schedule; playback advances with it."""
        t0, n, pending = time.monotonic(), 0, b""
        while not ws.closed:
            if self._hangup:
                await ws.send(self._msg("stop", stop={"accountSid": self.t.account_sid,
                                                      "callSid": self.call_sid}))
                await ws.close()
                return
            with self.lock:
                while self.outbound and self.outbound[0][0] == "dtmf":
                    digit = self.outbound.pop(0)[1]
                    await ws.send(self._msg("dtmf", dtmf={"track": "inbound_track",
                                                          "digit": digit}))
                if not pending and self.outbound and self.outbound[0][0] == "audio":
                    pending = self.outbound.pop(0)[1]
            frame, pending = (pending[:FRAME].ljust(FRAME, b"\xff"), pending[FRAME:]) \
                if pending else (SILENCE, b"")
            self.caller += frame
            n += 1
            try:
                await ws.send(self._msg("media", media={
                    "track": "inbound", "chunk": str(n), "timestamp": str(n * 20),
                    "payload": base64.b64encode(frame).decode()}))
            except websockets.exceptions.ConnectionClosed:
                return
            await self._play(ws, FRAME)
            delay = t0 + n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _play(self, ws, budget):
        """20 ms of playback: audio in order; a mark is echoed when reached."""
        while self.playback:
            head = self.playback[0]
            if isinstance(head, tuple):
                self.playback.pop(0)
                await self._echo(ws, head[1])
                continue
            if budget <= 0:
                break
            take = head[:budget]
            self.played += take
            budget -= len(take)
            if len(take) == len(head):
                self.playback.pop(0)
            else:
                self.playback[0] = head[len(take):]
        if budget > 0:
            self.played += b"\xff" * budget
        frame = self.played[-FRAME:]
        self.sound_log.append((time.monotonic(),
                               int(audioop.rms(audioop.ulaw2lin(bytes(frame), 2), 2) > 300)))

    async def _echo(self, ws, name):
        self.marks_echoed.append((time.monotonic(), name))
        try:
            await ws.send(self._msg("mark", mark={"name": name}))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def _receiver(self, ws):
        try:
            async for raw in ws:
                now = time.monotonic()
                if isinstance(raw, bytes):
                    self.errors.append(31950)
                    continue
                m = json.loads(raw)
                self.received.append((now, m))
                ev = m.get("event")
                if ev not in ("media", "mark", "clear") or m.get("streamSid") != self.stream_sid:
                    self.errors.append(31951)
                elif ev == "media":
                    self.playback.append(base64.b64decode(m["media"]["payload"],
                                                          validate=True))
                elif ev == "mark":
                    self.playback.append(("mark", m["mark"]["name"]))
                elif ev == "clear":
                    self.clears.append(now)
                    marks = [p[1] for p in self.playback if isinstance(p, tuple)]
                    self.playback = []
                    for name in marks:
                        await self._echo(ws, name)
        except websockets.exceptions.ConnectionClosed as e:
            self.close_code = e.code
        self.close_code = self.close_code or ws.close_code
        self.closed_at = time.monotonic()
