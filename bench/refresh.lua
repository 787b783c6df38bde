-- Refresh token chains with rotation. Thread n (of BENCH_THREADS, one
-- connection each) takes every BENCH_THREADS-th line of BENCH_TOKENS and
-- refreshes its chains in turn: the token a response returns is the one
-- that chain presents next, as a real client with rotation would do. A
-- thread stops at the first answer without a refresh token.
package.path = "bench/?.lua;" .. package.path
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  chains = require("share").lines(id, "")
  current = 1
end

function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. chains[current])
end

function response(status, headers, body)
  local next_rt = body:match('"refresh_token":"([^"]+)"')
  if next_rt then
    chains[current] = next_rt
    current = current % #chains + 1
  else
    wrk.thread:stop()
  end
end
