-- POST /api/v1/subscribers/EMAIL/{a new address}/statuses with the body in args[2]; the
-- addresses are w<args[1]>-<thread>-<n>@bench.example.com, so every change is a real one.
local threads = 0
local sent = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function init(args)
  run = args[1]
  body = args[2]
  -- wrk.format replaces wrk.headers (the -H options) when given headers of its own
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local path = string.format("/api/v1/subscribers/EMAIL/w%s-%d-%d@bench.example.com/statuses", run, thread_number, sent)
  return wrk.format("POST", path, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON:{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
