-- wrk script: each request GETs a path picked at random from a list file.
--   wrk -t2 -c64 -d10s -s bench/paths.lua http://127.0.0.1:38080 -- bench/out/paths/page.txt
-- An optional second argument (else the environment variable BENCH_COOKIE) is
-- a Cookie header value sent with every request, e.g. a member's session:
--   wrk ... -s bench/paths.lua URL -- paths.txt 'cafe_session=...'
-- At the end it prints one tab-separated line that bench/run.sh tabulates:
--   RESULT  req/s  p50_ms  p99_ms  errors  requests  note
local paths = {}
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open " .. tostring(args[1]))
  for line in file:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. args[1])
  local cookie = args[2]
  if cookie == nil or cookie == "" then cookie = os.getenv("BENCH_COOKIE") end
  if cookie ~= nil and cookie ~= "" then wrk.headers["Cookie"] = cookie end
  math.randomseed(os.time() * 1000 + (id or 0))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT\t%.1f\t%.2f\t%.2f\t%d\t%d\tnon2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors, summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
