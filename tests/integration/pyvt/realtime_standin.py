"""Plays an OpenAI-Realtime-compatible server (realtime-and-streams.md §1) for stream-mode
tests: a websockets server on loopback, in a thread of its own, whose behaviour is chosen
per connection by the model name the gateway asks for (`?model=NAME`, the tenant's
realtime model). It records everything it receives, with monotonic times, for assertions.

A scenario is a dict (register with `standin.scenario(name, **options)`):
  refuse=STATUS        answer the upgrade with this HTTP status (no WebSocket)
  silent=True          accept, then never send anything
  dialect="beta"       beta event names (response.audio.delta, ...); default GA
  greeting_ms=N        length of the greeting's audio (a tone), default 600
  greeting_delay=S     wait before the greeting's first audio
  close_after_greeting=True / hang_after_greeting=True
  turns=[...]          one dict per caller utterance the server "hears" (server VAD on the
                       appended audio): {"heard": caller transcript, "reply": text,
                       "reply_ms": audio length, "tool": None|"escalate_to_human"|"end_call"}
  chunk_ms=N           audio per delta (default 100); deltas go out as fast as possible,
                       faster than real time, as real servers do
The server VAD: appended audio louder than a threshold for 60 ms starts speech
(input_audio_buffer.speech_started; the active response is cancelled when
interrupt_response is on), 300 ms below it stops it (speech_stopped, then the caller's
transcript and a response).
"""
import asyncio
import audioop
import base64
import json
import math
import threading
import time

import websockets
import websockets.server

from .util import free_port

ULAW_SILENCE = b"\xff"


def tone_ulaw(ms, freq=440, amplitude=8000, rate=8000):
    """A sine tone as µ-law bytes (8 kHz unless rate says otherwise, then PCM16 LE)."""
    n = rate * ms // 1000
    pcm = b"".join(int(amplitude * math.sin(2 * math.pi * freq * i / rate)).to_bytes(
        2, "little", signed=True) for i in range(n))
    return audioop.lin2ulaw(pcm, 2) if rate == 8000 else pcm


class Connection:
    """One client connection: what it asked for and everything that crossed it."""

    def __init__(self, path, headers):
        self.at = time.monotonic()
        self.path = path
        self.headers = headers
        self.received = []      # (monotonic time, event dict)
        self.sent = []          # (monotonic time, event dict)
        self.closed_at = None
        self.session = {}

    def events(self, type_=None):
        return [e for _, e in self.received if type_ is None or e.get("type") == type_]

    def times(self, type_):
        return [t for t, e in self.received if e.get("type") == type_]

    def sent_events(self, type_=None):
        return [e for _, e in self.sent if type_ is None or e.get("type") == type_]

    def wait_for(self, type_, timeout=10, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.events(type_)) >= count:
                return self.events(type_)
            time.sleep(0.02)
        raise TimeoutError("no %s from the gateway within %ss (got %s)" % (
            type_, timeout, [e.get("type") for e in self.events()][-20:]))


class RealtimeStandIn:
    GA = {"audio_delta": "response.output_audio.delta", "audio_done": "response.output_audio.done",
          "tr_delta": "response.output_audio_transcript.delta",
          "tr_done": "response.output_audio_transcript.done",
          "item_added": "conversation.item.added"}
    BETA = {"audio_delta": "response.audio.delta", "audio_done": "response.audio.done",
            "tr_delta": "response.audio_transcript.delta",
            "tr_done": "response.audio_transcript.done", "item_added": "conversation.item.created"}

    def __init__(self):
        self.port = free_port()
        self.scenarios = {}
        self.connections = []
        self.loop = None
        self.thread = None
        self._ready = threading.Event()
        self._n = 0

    @property
    def url(self):
        return "ws://127.0.0.1:%d/v1/realtime" % self.port

    def scenario(self, name, **options):
        self.scenarios[name] = options
        return name

    # ------------------------------------------------------------ server
    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("realtime stand-in did not start")
        return self

    def stop(self):
        """Closes the server and every connection, then the loop: nothing left pending."""
        async def shutdown():
            self.server.close()
            await self.server.wait_closed()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self.loop:
            try:
                asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(websockets.server.serve(
            self._handler, "127.0.0.1", self.port, process_request=self._process_request,
            max_size=None, compression=None))
        self._ready.set()
        self.loop.run_forever()

    def _options(self, path):
        model = ""
        if "?" in path:
            for kv in path.split("?", 1)[1].split("&"):
                if kv.startswith("model="):
                    model = kv[6:]
        return model, self.scenarios.get(model, {})

    async def _process_request(self, path, headers):
        model, opts = self._options(path)
        if opts.get("refuse"):
            conn = Connection(path, dict(headers))
            conn.model = model
            conn.refused = opts["refuse"]
            self.connections.append(conn)
            return (opts["refuse"], [("Content-Type", "application/json")],
                    b'{"error":{"message":"refused by the stand-in"}}')
        return None

    async def _handler(self, ws, path):
        model, opts = self._options(path)
        conn = Connection(path, ws.request_headers)
        conn.model = model
        self.connections.append(conn)
        try:
            await _Session(self, ws, conn, opts).run()
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            conn.closed_at = time.monotonic()


class _Session:
    """The server side of one connection."""

    def __init__(self, standin, ws, conn, opts):
        self.s, self.ws, self.c, self.o = standin, ws, conn, opts
        self.names = RealtimeStandIn.BETA if opts.get("dialect") == "beta" else RealtimeStandIn.GA
        self.ids = 0
        self.pcm = False
        self.active = None          # the response being made: {"id", "item", "cancelled"}
        self.produced = {}          # item_id -> ms of audio sent
        self.turns = list(opts.get("turns", []))
        self.loud_ms = self.quiet_ms = 0
        self.speaking = False
        self.appended_ms = 0
        self.hung = False

    def new_id(self, prefix):
        self.ids += 1
        return "%s_%06d" % (prefix, self.ids)

    async def send(self, ev):
        self.c.sent.append((time.monotonic(), ev))
        await self.ws.send(json.dumps(ev))

    async def run(self):
        if self.o.get("silent"):
            async for msg in self.ws:
                self.c.received.append((time.monotonic(), json.loads(msg)))
            return
        await self.send({"type": "session.created", "event_id": self.new_id("event"),
                         "session": {"id": self.new_id("sess"), "object": "realtime.session"}})
        async for msg in self.ws:
            ev = json.loads(msg)
            self.c.received.append((time.monotonic(), ev))
            if self.hung:
                continue
            await self.on_event(ev)

    async def on_event(self, ev):
        t = ev.get("type")
        if t == "session.update":
            await self.on_session(ev.get("session", {}))
        elif t == "response.create":
            if self.active and not self.active["done"]:
                await self.error("conversation_already_has_active_response",
                                 "Conversation already has an active response")
                return
            greeting = not self.c.events("response.create")[:-1]
            ms = self.o.get("greeting_ms", 600) if greeting else 800
            asyncio.ensure_future(self.respond(ms, "Hello!" if greeting else "OK.",
                                               greeting=greeting))
        elif t == "input_audio_buffer.append":
            await self.on_audio(base64.b64decode(ev["audio"]))
        elif t == "conversation.item.truncate":
            await self.on_truncate(ev)
        elif t == "response.cancel":
            if not self.active or self.active["done"]:
                await self.error("response_cancel_not_active", "No active response")
            else:
                self.active["cancelled"] = True

    async def on_session(self, sess):
        self.c.session = sess
        fmt = (sess.get("audio", {}).get("output", {}).get("format", {}).get("type")
               or sess.get("output_audio_format"))
        self.pcm = fmt in ("audio/pcm", "pcm16")
        out = dict(sess)
        await self.send({"type": "session.updated", "session": out})

    async def error(self, code, message):
        await self.send({"type": "error", "event_id": self.new_id("event"),
                         "error": {"type": "invalid_request_error", "code": code,
                                   "message": message, "param": None, "event_id": None}})

    # ------------------------------------------------------------ responses
    async def respond(self, ms, text, greeting=False, tool=None):
        rid, item = self.new_id("resp"), self.new_id("item")
        r = {"id": rid, "item": item, "cancelled": False, "done": False}
        self.active = r
        await self.send({"type": "response.created", "response": {"id": rid,
                                                                  "status": "in_progress"}})
        if greeting and self.o.get("greeting_delay"):
            await asyncio.sleep(self.o["greeting_delay"])
        await self.send({"type": self.names["item_added"], "item": {"id": item,
                                                                   "type": "message"}})
        audio = tone_ulaw(ms, rate=24000 if self.pcm else 8000)
        bytes_per_ms = 48 if self.pcm else 8
        step = self.o.get("chunk_ms", 100) * bytes_per_ms
        self.produced[item] = 0
        for off in range(0, len(audio), step):
            if r["cancelled"]:
                break
            chunk = audio[off:off + step]
            self.produced[item] += len(chunk) // bytes_per_ms
            await self.send({"type": self.names["audio_delta"], "response_id": rid,
                             "item_id": item, "output_index": 0, "content_index": 0,
                             "delta": base64.b64encode(chunk).decode()})
            await asyncio.sleep(0.005)
        if not r["cancelled"]:
            await self.send({"type": self.names["audio_done"], "response_id": rid,
                             "item_id": item, "output_index": 0, "content_index": 0})
            await self.send({"type": self.names["tr_done"], "response_id": rid,
                             "item_id": item, "output_index": 0, "content_index": 0,
                             "transcript": text})
        if tool and not r["cancelled"]:
            call = self.new_id("item")
            await self.send({"type": "response.function_call_arguments.done",
                             "response_id": rid, "item_id": call, "call_id": "call_1",
                             "name": tool, "arguments": "{}"})
            await self.send({"type": "response.output_item.done", "response_id": rid,
                             "output_index": 1,
                             "item": {"id": call, "type": "function_call", "status": "completed",
                                      "call_id": "call_1", "name": tool, "arguments": "{}"}})
        r["done"] = True
        status = "cancelled" if r["cancelled"] else "completed"
        await self.send({"type": "response.done", "response": {
            "id": rid, "status": status,
            "status_details": {"type": status, "reason": "turn_detected"} if r["cancelled"]
            else None}})
        if greeting and self.o.get("close_after_greeting"):
            await self.ws.close(1011, "stand-in closes")
        if greeting and self.o.get("hang_after_greeting"):
            self.hung = True

    async def on_truncate(self, ev):
        item, end = ev.get("item_id"), ev.get("audio_end_ms", 0)
        produced = self.produced.get(item)
        if produced is None:
            await self.error("item_not_found", "no such item")
        elif end > produced:
            await self.error("invalid_value", "Audio content of %dms is already shorter than "
                             "%dms" % (produced, end))
        else:
            await self.send({"type": "conversation.item.truncated", "item_id": item,
                             "content_index": ev.get("content_index", 0), "audio_end_ms": end})

    # ------------------------------------------------------------ server VAD
    async def on_audio(self, audio):
        if self.pcm:
            ms, loud = len(audio) // 48, audioop.rms(audio, 2) > 1500
        else:
            ms, loud = len(audio) // 8, audioop.rms(audioop.ulaw2lin(audio, 2), 2) > 1500
        self.appended_ms += ms
        if loud:
            self.loud_ms += ms
            self.quiet_ms = 0
        else:
            self.quiet_ms += ms
            if not self.speaking:
                self.loud_ms = 0
        if not self.speaking and self.loud_ms >= 60:
            self.speaking = True
            if self.active and not self.active["done"]:
                self.active["cancelled"] = True   # interrupt_response
            await self.send({"type": "input_audio_buffer.speech_started",
                             "audio_start_ms": self.appended_ms - self.loud_ms,
                             "item_id": self.new_id("item")})
        elif self.speaking and self.quiet_ms >= 300:
            self.speaking = False
            self.loud_ms = 0
            await self.send({"type": "input_audio_buffer.speech_stopped",
                             "audio_end_ms": self.appended_ms, "item_id": "x"})
            turn = self.turns.pop(0) if self.turns else {"heard": "hello", "reply": "OK."}
            if turn.get("no_answer"):
                return
            await self.send({"type": "conversation.item.input_audio_transcription.completed",
                             "item_id": self.new_id("item"), "content_index": 0,
                             "transcript": turn.get("heard", "")})
            asyncio.ensure_future(self.respond(turn.get("reply_ms", 800), turn.get("reply", ""),
                                               tool=turn.get("tool")))
