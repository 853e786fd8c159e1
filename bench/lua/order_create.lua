-- POST /api/orders for one unit of a product, rotating over the product ids in
-- BENCH_PRODUCT_IDS (one id: a flash sale on that product) and the bearer tokens in the file
-- BENCH_TOKENS_FILE, one buyer per request in turn (a buyer may hold only a few unpaid orders).
-- With BENCH_KEYED=1 each order carries its own Idempotency-Key, as a client that retries does.
-- Counts answers by status for bench/shop.py.
local function split(value, pattern)
  local out = {}
  for part in string.gmatch(value or "", pattern) do
    out[#out + 1] = part
  end
  return out
end

local ids = split(os.getenv("BENCH_PRODUCT_IDS"), "%d+")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local keyed = os.getenv("BENCH_KEYED") == "1"
local address = '{"recipient":"Bench","line1":"1 Main St","city":"Taipei","country":"TW"}'

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local thread_key = string.format("%08x", math.random(0, 0x7fffffff))
local n = math.random(#tokens)

statuses = {}

request = function()
  n = n + 1
  local body = '{"items":[{"product_id":' .. ids[n % #ids + 1] .. ',"quantity":1}],'
    .. '"shipping_address":' .. address .. ',"payment_method":"card"}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1],
  }
  if keyed then
    headers["Idempotency-Key"] = thread_key .. "-" .. n
  end
  return wrk.format("POST", "/api/orders", headers, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- done() runs in wrk's main Lua state, so it gathers the per-thread counters via thread:get.
local threads = {}
setup = function(thread)
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
