-- wrk script of scripts/load.sh: requests as several tenants, each with its own
-- session token and host, in proportions set by MIX ("list", "search" or "mixed").
-- Writes create tasks titled "load <slug> <thread>-<n>", so the check after the run
-- can find each tenant's writes and count them.
local tenants = {}
for slug, token in string.gmatch(os.getenv("TENANTS") or "", "(%w+)=(%S+)") do
  tenants[#tenants + 1] = { slug = slug, token = token }
end
local mix = os.getenv("MIX") or "mixed"
local domain = os.getenv("BASE_DOMAIN") or "demo.localhost"
local words = { "invoice", "pallet", "customs", "contract", "renewal", "safety", "audit", "schedule" }

local threads = {}
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  n = 0
  created = 0
  errors = 0
end

local function headers(t)
  return {
    ["Host"] = t.slug .. "." .. domain,
    ["Authorization"] = "Bearer " .. t.token,
    ["Content-Type"] = "application/json",
  }
end

function request()
  n = n + 1
  local t = tenants[math.random(#tenants)]
  local kind = mix
  if mix == "mixed" then
    local r = math.random(100)
    if r <= 40 then kind = "list" elseif r <= 70 then kind = "search" elseif r <= 85 then kind = "tasks" else kind = "write" end
  end
  if kind == "list" then
    return wrk.format("GET", "/documents?limit=20", headers(t))
  elseif kind == "search" then
    return wrk.format("GET", "/search?k=10&q=" .. words[math.random(#words)], headers(t))
  elseif kind == "tasks" then
    return wrk.format("GET", "/tasks?status=todo&limit=20", headers(t))
  else
    local body = string.format('{"title": "load %s %d-%d"}', t.slug, id, n)
    return wrk.format("POST", "/tasks", headers(t), body)
  end
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status >= 300 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local c, e = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    e = e + thread:get("errors")
  end
  io.write(string.format("RESULT mix=%s requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f created=%d errors=%d socket_errors=%d\n",
    mix, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, c, e,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
