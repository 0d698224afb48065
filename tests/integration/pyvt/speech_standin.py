"""A local stand-in for OpenAI-compatible speech endpoints (http.server in a thread on a
random loopback port): POST /v1/audio/transcriptions (multipart: file, model, language,
response_format) and POST /v1/audio/speech (JSON: model, input, voice, response_format).

Behaviours are queued per endpoint and taken one per request; every request is recorded
(fields, the uploaded WAV decoded, headers). Without a queued behaviour a transcription is
{"text": ""} and speech is a short 24 kHz tone.

    stt = SpeechStandIn().start()
    stt.push_stt(transcript("What are your opening hours?"), error(500), hang(10))
    ... stt.transcriptions[0].fields["model"], .wav_rate, .wav_seconds
"""
import email.parser
import email.policy
import io
import json
import math
import socket
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def transcript(text, delay=0, **extra):
    body = {"text": text}
    body.update(extra)
    return {"status": 200, "body": body, "delay": delay}


def error(status=500, message="The server had an error while processing your request."):
    return {"status": status, "body": {"error": {"message": message, "type": "server_error"}}}


def hang(seconds, then=None):
    return dict(then or transcript("too late"), delay=seconds)


def raw(data, status=200, content_type="application/json"):
    return {"status": status, "raw": data if isinstance(data, bytes) else data.encode(),
            "content_type": content_type}


def speech(pcm24k=None, first_byte=0, chunk_ms=100, pace=0, status=200):
    """Audio out: raw PCM16 24 kHz (a 1 s tone when None), its first bytes after first_byte
    seconds, then chunk_ms pieces every pace seconds."""
    if pcm24k is None:
        pcm24k = b"".join(int(6000 * math.sin(2 * math.pi * 440 * i / 24000)).to_bytes(
            2, "little", signed=True) for i in range(24000))
    return {"status": status, "pcm": pcm24k, "first_byte": first_byte, "chunk_ms": chunk_ms,
            "pace": pace}


class SpeechRequest:
    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.raw = body
        self.fields = {}
        self.wav_rate = self.wav_channels = None
        self.wav_seconds = 0.0
        self.json = None
        ctype = headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True)
                if name == "file":
                    self.file_name = part.get_filename()
                    self.file_type = part.get_content_type()
                    self._wav(data)
                else:
                    self.fields[name] = data.decode()
        elif ctype.startswith("application/json"):
            self.json = json.loads(body.decode())

    def _wav(self, data):
        with wave.open(io.BytesIO(data)) as w:
            self.wav_rate, self.wav_channels = w.getframerate(), w.getnchannels()
            self.wav_seconds = w.getnframes() / float(w.getframerate())

    @property
    def authorization(self):
        return self.headers.get("Authorization")


class SpeechStandIn:
    def __init__(self, host="127.0.0.1", port=0):
        self.transcriptions = []
        self.speeches = []
        self.stt_queue = []
        self.tts_queue = []
        self.tts_rules = []  # (text, behaviour): for an input containing text, every time
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = SpeechRequest(self.path, dict(self.headers.items()), body)
                path = self.path.rstrip("/")
                with standin._lock:
                    if path == "/v1/audio/transcriptions":
                        standin.transcriptions.append(req)
                        b = standin.stt_queue.pop(0) if standin.stt_queue else transcript("")
                    elif path == "/v1/audio/speech":
                        standin.speeches.append(req)
                        said = (req.json or {}).get("input", "")
                        b = next((rb for rt, rb in standin.tts_rules if rt in said), None)
                        if b is None:
                            b = standin.tts_queue.pop(0) if standin.tts_queue else speech()
                    else:
                        b = error(404, "unknown path %s" % self.path)
                try:
                    if "pcm" in b:
                        self._stream(b)
                    else:
                        self._answer(b)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up (its time budget): expected after a hang

            def _answer(self, b):
                if b.get("delay"):
                    time.sleep(b["delay"])
                data = b.get("raw")
                if data is None:
                    data = json.dumps(b["body"]).encode()
                self.send_response(b["status"])
                self.send_header("Content-Type", b.get("content_type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, b):
                time.sleep(b["first_byte"])
                self.send_response(b["status"])
                self.send_header("Content-Type", "audio/pcm")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                step = 48 * b["chunk_ms"]
                pcm = b["pcm"]
                for i in range(0, len(pcm), step):
                    piece = pcm[i:i + step]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                    if b["pace"]:
                        time.sleep(b["pace"])
                self.wfile.write(b"0\r\n\r\n")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True

    @property
    def base_url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d/v1" % (host, port)

    def push_stt(self, *behaviours):
        with self._lock:
            self.stt_queue.extend(behaviours)

    def push_tts(self, *behaviours):
        with self._lock:
            self.tts_queue.extend(behaviours)

    def tts_for(self, text, behaviour):
        """Every speech request whose input contains text gets behaviour (before the
        queue): the gateway also synthesizes its fillers ahead, in an order of its own."""
        with self._lock:
            self.tts_rules.append((text, behaviour))

    def spoken(self):
        """The inputs of the speech requests so far, in order."""
        with self._lock:
            return [(r.json or {}).get("input") for r in self.speeches]

    def clear(self):
        with self._lock:
            self.transcriptions.clear()
            self.speeches.clear()
            self.stt_queue.clear()
            self.tts_queue.clear()
            self.tts_rules.clear()

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
