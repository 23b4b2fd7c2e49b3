-- wrk script of tests/bench/run.sh: POST /v1/callbacks with a distinct (requester, target) pair
-- per request, so that every answer should be 201.
--
-- usage: wrk -t THREADS -c CONNS -d 5s -s post.lua URL -- TOKEN BASE COUNT THREADS POOL_REQUESTERS
--        POOL_TARGETS
--
-- The pair space is the POST pool that scale.py load provisions (scale.py pool_layout): pair p
-- (BASE <= p < BASE+COUNT) is requester 8|(p mod POOL_REQUESTERS) and target
-- 7|(p mod POOL_TARGETS), the two counts coprime, so every pair is distinct, 10 per requester
-- (max_per_requester), at most 50 per target (max_per_target), and consecutive requests name
-- different parties; all targets are reported busy (so the reason is `busy`, CB-05). Each wrk thread walks its own disjoint slice of COUNT/THREADS
-- pairs; the connections of a thread share its counter. An exhausted slice sends a request
-- that is refused (422) and counted, so an undersized pool shows as errors, never as a 201
-- by supersession (CB-08).
-- done() prints one `RESULT k=v ...` line and up to 10 `NON201 status body` lines per thread.

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local counter, last, pool_requesters, pool_targets

function init(args)
  local token = args[1]
  local base = tonumber(args[2])
  local count = tonumber(args[3])
  local nthreads = tonumber(args[4])
  pool_requesters = tonumber(args[5])
  pool_targets = tonumber(args[6])
  local slice = math.floor(count / nthreads)
  counter = base + tid * slice
  last = counter + slice - 1
  non201 = 0
  exhausted = 0
  samples = ""
  nsamples = 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body
  if counter > last then
    exhausted = exhausted + 1
    body = '{"requester":"pool-exhausted"}'
  else
    local p = counter
    counter = counter + 1
    body = string.format('{"requester":"8%07d","target":"7%07d"}',
                         p % pool_requesters, p % pool_targets)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 201 then
    non201 = non201 + 1
    if nsamples < 10 then
      nsamples = nsamples + 1
      samples = samples .. "NON201 " .. status .. " " .. string.sub(body or "", 1, 200):gsub("\n", " ") .. "\n"
    end
  end
end

function done(summary, latency, requests)
  local bad, ex, text = 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non201")
    ex = ex + t:get("exhausted")
    text = text .. t:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non201=%d exhausted=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, bad, ex, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
  io.write(text)
end
