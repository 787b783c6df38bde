-- Introspection over many distinct tokens: thread n (of BENCH_THREADS, one
-- connection each) takes every BENCH_THREADS-th token of BENCH_TOKENS and
-- asks about each in turn. Answers that are not "active": true are counted
-- and reported, since a benchmark of inactive answers would flatter.
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
  local count = tonumber(os.getenv("BENCH_THREADS"))
  tokens = {}
  local line_number = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line_number % count == id - 1 then
      tokens[#tokens + 1] = "token=" .. line
    end
    line_number = line_number + 1
  end
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
