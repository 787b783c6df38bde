-- Introspection over many distinct tokens: thread n (of BENCH_THREADS)
-- takes every BENCH_THREADS-th token of BENCH_TOKENS (bench/share.lua) and
-- asks about each in turn. Answers that are not "active": true are counted
-- and reported, since a benchmark of inactive answers would flatter.
package.path = "bench/?.lua;" .. package.path
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  tokens = require("share").lines(id, "token=")
  current = 1
  inactive = 0
end

function request()
  local body = tokens[current]
  current = current % #tokens + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if not body:find('"active":true', 1, true) then
    inactive = inactive + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("inactive")
  end
  io.write(string.format("inactive answers: %d\n", total))
end
