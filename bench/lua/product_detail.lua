-- GET /api/products/{id}, rotating over the ids in BENCH_PRODUCT_IDS ("1,2,3").
local ids = {}
for id in string.gmatch(os.getenv("BENCH_PRODUCT_IDS") or "1", "%d+") do
  ids[#ids + 1] = id
end

-- Each wrk thread runs its own copy of this file; a random start spreads the threads out.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local n = math.random(#ids)

request = function()
  n = n % #ids + 1
  return wrk.format("GET", "/api/products/" .. ids[n])
end
