-- This wrk thread's share of a file of tokens: thread n (numbered from 1 by
-- the script's setup) of BENCH_THREADS takes every BENCH_THREADS-th line,
-- starting at line n, each with `prefix` in front.
local share = {}

function share.lines(n, prefix)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  local mine = {}
  local line_number = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line_number % threads == n - 1 then
      mine[#mine + 1] = prefix .. line
    end
    line_number = line_number + 1
  end
  return mine
end

return share
