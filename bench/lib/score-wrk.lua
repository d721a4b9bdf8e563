-- wrk script for bench/score.ts: every request a distinct transaction (unique id, since ingestion de-duplicates by
-- id; the same card/merchant/device spread as bench/lib/score-load.ts), built on the fly so any run length gets
-- fresh ids. Environment: SCORE_PREFIX (id prefix, unique per phase), CLEAVE_API_KEY (optional), SCORE_THINK_MS
-- (optional: a fixed rate instead of saturation, below). Prints one JSON line at the end, in the shape
-- score-load.ts prints.
local prefix = os.getenv("SCORE_PREFIX") or "wrk"
local key = os.getenv("CLEAVE_API_KEY")
local countries = { "US", "GB", "FR", "DE", "ES", "IT" }
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  if key and key ~= "" then wrk.headers["authorization"] = "Bearer " .. key end
end

function request()
  local i = counter
  counter = counter + 1
  local body = string.format(
    '{"id":"%s-%d-%d","card_id":"card-%d","merchant_id":"merchant-%d","amount":%.2f,"country":"%s","device_id":"device-%d"}',
    prefix, tid, i, (i * 7919) % 5000, (i * 104729) % 300, 5 + ((i * 2654435761) % 50000) / 100,
    countries[(i % 6) + 1], (i * 31) % 6000)
  return wrk.format(nil, nil, nil, body)
end

-- Fixed rate: before each request a connection waits an exponentially distributed time of mean SCORE_THINK_MS, so
-- that many connections together send a Poisson stream of about connections / mean requests per second. With the
-- mean far above the response time a stall does not hold back requests that were due (few are in flight at any
-- moment), so latency from send is latency from arrival.
local think = tonumber(os.getenv("SCORE_THINK_MS") or "")
if think then
  function delay()
    return math.floor(-math.log(1 - math.random()) * think + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"statuses":{"non-2xx":%d,"network":%d},"seconds":%f,"perSecond":%f,' ..
    '"p50Ms":%f,"p99Ms":%f,"serviceP50Ms":%f,"serviceP99Ms":%f,"generator":"wrk"}\n',
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, e.status,
    e.connect + e.read + e.write + e.timeout, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
