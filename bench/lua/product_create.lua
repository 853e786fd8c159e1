-- POST /api/products as the admin (BENCH_ADMIN_TOKEN), each product in one of the categories in
-- BENCH_CATEGORY_IDS ("1,2,3"), so the create checks its category as the shop's admin page's
-- does. Counts answers by status for bench/shop.py.
local categories = {}
for id in string.gmatch(os.getenv("BENCH_CATEGORY_IDS") or "", "%d+") do
  categories[#categories + 1] = id
end
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_ADMIN_TOKEN") or ""),
}

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local n = math.random(1000000)

statuses = {}

request = function()
  n = n + 1
  local body = '{"name":"Bench product ' .. n .. '","description":"Made by bench/shop.py.",'
    .. '"price":"19.99","stock":100,"image_url":"https://example.com/p/' .. n .. '.png",'
    .. '"category_id":' .. categories[n % #categories + 1] .. '}'
  return wrk.format("POST", "/api/products", headers, body)
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
