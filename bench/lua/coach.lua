-- coach: GET BENCH_PATH, or POST a workout to it when BENCH_METHOD is POST, rotating over the
-- bearer tokens in BENCH_TOKENS (so the load is spread over several users).
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do
  tokens[#tokens + 1] = token
end
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = nil
if method == "POST" then
  body = '{"date":"' .. (os.getenv("BENCH_DATE") or "2026-11-20") .. '","kind":"run","minutes":30,"calories":250}'
end

math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
local n = math.random(#tokens)

request = function()
  n = n + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[n % #tokens + 1]}
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end
