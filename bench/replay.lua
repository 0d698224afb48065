-- bench/replay.lua — wrk script that replays pre-signed Twilio webhooks.
--
--   wrk -t2 -c32 -d15s --latency -s bench/replay.lua http://127.0.0.1:PORT -- FILE THREADS [LIMIT MARKER [DELAY_MS]]
--
-- FILE has one request per line, four tab-separated fields (bench/bench.py writes it):
--   path-with-query  X-Twilio-Signature  I-Twilio-Idempotency-Token  form-body
-- Thread k of THREADS takes lines k, k+THREADS, k+2*THREADS, ... so no two threads send
-- the same request. A thread that runs out of lines starts again at its first one and
-- counts a wrap (a repeated delivery: the gateway de-duplicates it, so it writes less).
-- LIMIT > 0: each thread stops after LIMIT/THREADS responses (a fixed-size run) and then
-- creates the file MARKER.<thread> so the caller can end wrk (whose main thread otherwise
-- sleeps for the whole -d duration) with SIGINT.
-- DELAY_MS > 0: each connection waits that long after a response before its next request
-- (a paced load: about CONNECTIONS * 1000 / (DELAY_MS + latency) requests a second, for
-- the soak, bench/soak.py).
-- done() prints one line "VTBENCH_JSON {...}" with the counts and latency percentiles.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   local file = args[1]
   local nthreads = tonumber(args[2] or "1")
   local limit = tonumber(args[3] or "0")
   marker = args[4] or ""
   local pause = tonumber(args[5] or "0")
   if pause > 0 then
      -- wrk looks for delay() after init(): defined here, it paces every connection
      delay = function() return pause end
   end
   reqs = {}
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == tid then
         local path, sig, idem, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         if not path then
            error("bad line " .. (i + 1) .. " in " .. file)
         end
         local headers = {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["User-Agent"] = "TwilioProxy/1.1",
            ["Accept"] = "*/*",
         }
         if sig ~= "" then headers["X-Twilio-Signature"] = sig end
         if idem ~= "" then headers["I-Twilio-Idempotency-Token"] = idem end
         reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
      end
      i = i + 1
   end
   if #reqs == 0 then
      error("no requests for thread " .. tid .. " in " .. file)
   end
   nreqs = #reqs
   idx = 0
   wraps = 0
   responses = 0
   non2xx = 0
   first_bad = ""
   stopped = false
   per_thread_limit = 0
   if limit > 0 then
      per_thread_limit = math.ceil(limit / nthreads)
   end
end

function request()
   idx = idx + 1
   if idx > #reqs then
      idx = 1
      wraps = wraps + 1
   end
   return reqs[idx]
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
   if per_thread_limit > 0 and responses >= per_thread_limit and not stopped then
      stopped = true
      if marker ~= "" then
         local f = io.open(marker .. "." .. tid, "w")
         if f then f:close() end
      end
      wrk.thread:stop()
   end
end

local function jstr(s)
   s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local non2xx_total, wraps_total, responses_total, lines = 0, 0, 0, 0
   local bad = ""
   for _, t in ipairs(threads) do
      non2xx_total = non2xx_total + (t:get("non2xx") or 0)
      wraps_total = wraps_total + (t:get("wraps") or 0)
      responses_total = responses_total + (t:get("responses") or 0)
      lines = lines + (t:get("nreqs") or 0)
      if bad == "" then bad = t:get("first_bad") or "" end
   end
   local e = summary.errors
   io.write(string.format(
      'VTBENCH_JSON {"requests": %d, "responses_seen": %d, "duration_us": %d, "bytes": %d, ' ..
      '"rps": %.2f, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, ' ..
      '"mean": %.1f, "stdev": %.1f, "max": %d}, "errors": {"connect": %d, "read": %d, ' ..
      '"write": %d, "status": %d, "timeout": %d}, "non2xx": %d, "wraps": %d, ' ..
      '"distinct_requests": %d, "first_bad": %s}\n',
      summary.requests, responses_total, summary.duration, summary.bytes,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.mean, latency.stdev, latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, non2xx_total, wraps_total, lines,
      jstr(bad)))
end
