-- Issues codes: GET /authorize with a signed-in browser's session cookie
-- answers with a 302 to the client carrying a new code. Each wrk thread
-- appends the codes it receives to its own file, BENCH_CODES.<n>, for
-- bench/code.lua to redeem.
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  out = io.open(os.getenv("BENCH_CODES") .. "." .. id, "w")
end

function request()
  return wrk.format("GET", os.getenv("BENCH_AUTHORIZE_PATH"))
end

function response(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  local code = location:match("[?&]code=([^&]+)")
  if code then
    out:write(code, "\n")
    out:flush()
  end
end
