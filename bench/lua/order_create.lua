-- POST /api/orders for one unit of a product, rotating over the product ids in
-- BENCH_PRODUCT_IDS (to spread the row locks on stock) and the bearer tokens in BENCH_TOKENS
-- (so the orders belong to several users). Counts answers by status for bench/shop.py.
local function split(value, pattern)
  local out = {}
  for part in string.gmatch(value or "", pattern) do
    out[#out + 1] = part
  end
  return out
end

local ids = split(os.getenv("BENCH_PRODUCT_IDS"), "%d+")
local tokens = split(os.getenv("BENCH_TOKENS"), "[^,]+")
local address = '{"recipient":"Bench","line1":"1 Main St","city":"Taipei","country":"TW"}'

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local n = math.random(#ids * #tokens)

statuses = {}

request = function()
  n = n + 1
  local body = '{"items":[{"product_id":' .. ids[n % #ids + 1] .. ',"quantity":1}],'
    .. '"shipping_address":' .. address .. ',"payment_method":"card"}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.floor(n / #ids) % #tokens + 1],
  }
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
