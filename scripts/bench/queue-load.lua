-- wrk script: GET /gestion, each request signed in with the next of the
-- session cookies listed one per line in $BENCH_COOKIES.
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES")) do
  cookies[#cookies + 1] = line
end
local n = math.random(#cookies)

request = function()
  n = n % #cookies + 1
  return wrk.format("GET", os.getenv("BENCH_PATH") or "/gestion",
    { ["Cookie"] = os.getenv("BENCH_COOKIE_NAME") .. "=" .. cookies[n] })
end
