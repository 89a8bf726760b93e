-- wrk script for bench/run.py.
--   wrk -t2 -c20 -d20s -s bench/wrk_report.lua http://127.0.0.1:8300 -- paths.txt
-- Requests the paths listed in paths.txt (one per line) in turn, each thread starting at
-- its own offset so the connections spread over the list, and prints one line
-- "BENCH_JSON {...}" at the end: requests/s, latency percentiles in ms, errors.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local paths = {}
local position = 0

function init(args)
  local file = args[1]
  if file then
    for line in io.lines(file) do
      if line ~= "" then
        table.insert(paths, line)
      end
    end
  end
  if #paths > 0 then
    position = (thread_index * 7919) % #paths
  end
end

function request()
  if #paths == 0 then
    return wrk.request()
  end
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_s": %.3f, "requests_per_s": %.2f, ' ..
    '"latency_ms": {"mean": %.3f, "p50": %.3f, "p90": %.3f, "p95": %.3f, "p99": %.3f, ' ..
    '"max": %.3f}, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}, "bytes": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, summary.bytes))
end
