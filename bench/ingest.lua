-- wrk script for bench/ingest.py: POST one fixed signed GitHub push body, each request
-- with its own X-GitHub-Delivery, and count the 2xx answers exactly.
--
-- Usage: wrk ... -s bench/ingest.lua URL -- <body file> <signature> <delivery prefix>
--
-- Delivery ids are "<prefix>-<thread>-<n>": unique within a run, and the prefix lets the
-- bench count exactly the inbox rows this run wrote. On exit it prints one line:
--   ingest-lua: 2xx=<n> other=<n> p99_us=<n>

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open the body file")
  body = file:read("*a")
  file:close()
  prefix = args[3]
  headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-Hub-Signature-256"] = args[2],
    ["User-Agent"] = "hookbot-bench",
  }
  sent = 0
  ok = 0
  other = 0
end

function request()
  sent = sent + 1
  headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", prefix, thread_id, sent)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format("ingest-lua: 2xx=%d other=%d p99_us=%d\n",
    total_ok, total_other, latency:percentile(99)))
end
