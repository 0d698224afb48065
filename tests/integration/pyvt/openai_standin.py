"""A local stand-in for an OpenAI-compatible Chat Completions endpoint (http.server in a
thread on a random loopback port): canned answers, tool calls, slow answers, HTTP errors and
malformed bodies, queued per request; every request is recorded.

A request with "stream": true gets its answer as Server-Sent Events, the way OpenAI sends
them (chat.completion.chunk: the content token by token, tool calls as deltas, then
[DONE], chunked): `streamed(...)` sets the pace (a delay before the first token, a gap
between tokens, a pause after a given token), breaks the connection midway, or answers
whole JSON as a server that ignores "stream" does.

Without queued behaviours it answers with `demo_brain`, a tiny rule-based "model" good enough
for a demo call: it answers opening hours, escalates through the escalate_to_human tool when
the caller asks for a person, ends the call on goodbye, and returns a JSON analysis when the
request asks for JSON (the post-call analysis).
"""
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEMO_KEY = "sk-demo-standin-key-0123456789abcdef"


class ChatRequest:
    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body.decode("utf-8"))
        except ValueError:
            self.json = None

    @property
    def messages(self):
        return (self.json or {}).get("messages", [])

    @property
    def tools(self):
        return [t["function"]["name"] for t in (self.json or {}).get("tools", [])]

    @property
    def wants_json(self):
        return ((self.json or {}).get("response_format") or {}).get("type") == "json_object"

    @property
    def authorization(self):
        return self.headers.get("Authorization")

    @property
    def stream(self):
        return (self.json or {}).get("stream") is True

    def last_user(self):
        users = [m for m in self.messages if m.get("role") == "user"]
        return users[-1]["content"] if users else ""


def completion(content=None, tool=None, arguments=None, finish=None):
    """A Chat Completions response body (dict)."""
    msg = {"role": "assistant", "content": content}
    if tool:
        msg["tool_calls"] = [{"id": "call_%d" % int(time.time() * 1000), "type": "function",
                              "function": {"name": tool,
                                           "arguments": json.dumps(arguments or {})}}]
    return {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
            "model": "standin",
            "choices": [{"index": 0, "message": msg,
                         "finish_reason": finish or ("tool_calls" if tool else "stop")}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


# Behaviours: what the stand-in does with one request.
def say(text):
    return {"status": 200, "body": completion(text)}


def tool(name, arguments=None, text=None):
    return {"status": 200, "body": completion(text, name, arguments)}


def error(status=500, message="The server had an error while processing your request."):
    return {"status": status, "body": {"error": {"message": message, "type": "server_error"}}}


def raw(data, status=200, content_type="application/json"):
    return {"status": status, "raw": data if isinstance(data, bytes) else data.encode(),
            "content_type": content_type}


def hang(seconds, then=None):
    return dict(then or say("too late"), delay=seconds)


def streamed(behaviour, first_delay=0.0, gap=0.0, pause_after=None, pause=0.0,
             break_after=None, whole=False):
    """behaviour (say/tool), answered to a streaming request at this pace: first_delay
    before the first token, gap between tokens, `pause` seconds after the token that ends
    with pause_after (e.g. the first sentence's "."); break_after: the connection closes
    after that many tokens; whole: plain JSON, as a server that ignores "stream"."""
    return dict(behaviour, stream={"first_delay": first_delay, "gap": gap,
                                   "pause_after": pause_after, "pause": pause,
                                   "break_after": break_after, "whole": whole})


def chunks(body):
    """A chat.completion as its chat.completion.chunk events: a role delta, the content
    token by token (a word with its leading space), each tool call as deltas (id and name,
    then the arguments in two pieces), the finish_reason."""
    choice = body["choices"][0]
    msg = choice["message"]
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
            "model": body["model"]}

    def event(delta, finish=None):
        return dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])

    out = [("", event({"role": "assistant", "content": ""}))]
    for tok in re.findall(r"\s*\S+", msg.get("content") or ""):
        out.append((tok, event({"content": tok})))
    for i, call in enumerate(msg.get("tool_calls") or []):
        args = call["function"]["arguments"]
        half = len(args) // 2
        out.append(("", event({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                               "function": {"name": call["function"]["name"],
                                                            "arguments": ""}}]})))
        for piece in (args[:half], args[half:]):
            out.append(("", event({"tool_calls": [{"index": i,
                                                   "function": {"arguments": piece}}]})))
    out.append(("", event({}, choice.get("finish_reason"))))
    return out


def demo_brain(req):
    """Rule-based answers for demos (see the module docstring)."""
    if req.wants_json:
        text = " ".join(m["content"] for m in req.messages if m.get("role") == "user")
        negative = re.search(r"\b(angry|problem|terrible|broken|complain)", text, re.I)
        return say(json.dumps({
            "summary": "The caller asked about opening hours and asked to speak to a person; "
                       "the call was transferred.",
            "sentiment": "negative" if negative else "positive",
            "todos": ["Call the caller back if the transfer was not answered."]}))
    said = req.last_user().lower()
    if re.search(r"\b(human|person|someone|agent|representative|operator|receptionist)\b",
                 said):
        return tool("escalate_to_human", {"reason": "caller asked for a person"},
                    "Of course. Let me put you through to a member of our team.")
    if re.search(r"\b(bye|goodbye|that's all|that is all)\b", said):
        return tool("end_call", {}, "Thank you for calling. Goodbye!")
    if re.search(r"\b(hours|open|close)\b", said):
        return say("We are open Monday to Friday from 8 am to 6 pm, and Saturday mornings.")
    if re.search(r"\b(where|address|located)\b", said):
        return say("We are at 12 Harbour Street, next to the pharmacy.")
    return say("I can help with opening hours, directions and appointments. "
               "What would you like to know?")


class OpenAIStandIn:
    def __init__(self, host="127.0.0.1", port=0, brain=demo_brain):
        self.requests = []
        self.queue = []
        self.streams_done = []  # (monotonic time a streamed answer ended, its request)
        self.brain = brain
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm
                # and the client's delayed ACK add 40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = ChatRequest(self.path, dict(self.headers.items()), body)
                with standin._lock:
                    standin.requests.append(req)
                    behaviour = standin.queue.pop(0) if standin.queue else None
                if self.path.rstrip("/") != "/v1/chat/completions":
                    behaviour = error(404, "unknown path %s" % self.path)
                elif behaviour is None:
                    behaviour = standin.brain(req)
                if behaviour.get("delay"):
                    time.sleep(behaviour["delay"])
                if (req.stream and behaviour["status"] == 200 and "body" in behaviour
                        and not behaviour.get("stream", {}).get("whole")):
                    return self.send_stream(req, behaviour)
                data = behaviour.get("raw")
                if data is None:
                    data = json.dumps(behaviour["body"]).encode()
                try:
                    self.send_response(behaviour["status"])
                    self.send_header("Content-Type",
                                     behaviour.get("content_type", "application/json"))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up (its time budget): expected after a hang

            def send_stream(self, req, behaviour):
                pace = behaviour.get("stream", {})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    time.sleep(pace.get("first_delay") or 0)
                    for n, (tok, ev) in enumerate(chunks(behaviour["body"])):
                        if pace.get("break_after") is not None and n > pace["break_after"]:
                            self.close_connection = True
                            return  # no last chunk: the transfer is cut
                        self.write_chunk(b"data: " + json.dumps(ev).encode() + b"\n\n")
                        if tok:
                            time.sleep(pace.get("gap") or 0)
                        if tok and pace.get("pause_after") and tok.endswith(pace["pause_after"]):
                            time.sleep(pace.get("pause") or 0)
                            pace = dict(pace, pause_after=None)
                    self.write_chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    with standin._lock:
                        standin.streams_done.append((time.monotonic(), req))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def write_chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = None

    @property
    def base_url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d/v1" % (host, port)

    def push(self, *behaviours):
        with self._lock:
            self.queue.extend(behaviours)

    def clear(self):
        with self._lock:
            self.requests.clear()
            self.queue.clear()
            self.streams_done.clear()

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
