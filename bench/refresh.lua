-- Each wrk thread holds one connection and one refresh token chain: the
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
-- token each response returns is the one the next request presents, as a
-- real client with rotation would do.
local tokens = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  if #tokens == 0 then
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
      tokens[#tokens + 1] = line
    end
  end
  thread:set("rt", tokens[counter])
end

function request()
  return wrk.format("POST", nil, nil, "grant_type=refresh_token&refresh_token=" .. rt)
end

function response(status, headers, body)
  local next_rt = body:match('"refresh_token":"([^"]+)"')
  if next_rt then
    rt = next_rt
  else
    wrk.thread:stop()
  end
end
