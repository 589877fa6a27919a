-- wrk script: POST one signed GitHub delivery per request, with a fresh X-GitHub-Delivery each
-- time (so airhook's deterministic run ids differ), and print a JSON summary at the end.
-- Usage: wrk -t1 -c8 -d10s -s post.lua URL -- BODY_FILE SIGNATURE ID_PREFIX

local body, signature, prefix
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  signature = args[2]
  prefix = args[3] or "bench"
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Hook-ID"] = "123456789",
    ["X-Hub-Signature-256"] = signature,
    ["X-GitHub-Delivery"] = string.format("%s-%d-%d", prefix, tid, counter),
  }
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
