-- POST /bookings at the stores in BENCH_STORE_IDS (one id: every booking at one store), each
-- request by the next customer of BENCH_TOKENS_FILE, every thread on its own slice of them, so
-- no customer books twice at one store (that is a 409). Counts answers by status for
-- bench/queue.py.
local stores = {}
for id in string.gmatch(os.getenv("BENCH_STORE_IDS") or "", "[%x-]+") do
  stores[#stores + 1] = id
end
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local slices = tonumber(os.getenv("BENCH_SLICES") or "1")

local n
statuses = {}

init = function(args)
  -- `slice` is set by setup(); each thread walks its own part of the customers.
  n = (slice or 0) * math.floor(#tokens / slices)
end

request = function()
  n = n + 1
  local body = '{"store_id":"' .. stores[n % #stores + 1] .. '"}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(n - 1) % #tokens + 1],
  }
  return wrk.format("POST", "/bookings", headers, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
setup = function(thread)
  thread:set("slice", #threads)
  threads[#threads + 1] = thread
end

done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d: %d\n", status, count))
  end
end
