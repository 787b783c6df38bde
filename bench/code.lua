-- Redeems the codes bench/authorize.lua collected: thread n reads
-- BENCH_CODES.<n> and presents each code once, with the PKCE verifier, as
-- the public client would. A thread that runs out stops.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("BENCH_CODES") .. "." .. id) do
    codes[#codes + 1] = line
  end
  next_code = 1
  rest = "&client_id=" .. os.getenv("BENCH_CLIENT")
    .. "&redirect_uri=" .. os.getenv("BENCH_REDIRECT")
    .. "&code_verifier=" .. os.getenv("BENCH_VERIFIER")
end

function request()
  local code = codes[next_code]
  if code == nil then
    wrk.thread:stop()
    code = "exhausted"
  end
  next_code = next_code + 1
  return wrk.format(nil, nil, nil, "grant_type=authorization_code&code=" .. code .. rest)
end
