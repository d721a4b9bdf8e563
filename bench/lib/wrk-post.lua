-- wrk script for Cleave's benches: POSTs the bodies of a file, one per line (in turn, so a body can be a distinct
-- transaction), with the headers given as "name: value" arguments; prints one JSON line of results at the end
-- (errors.status counts answers that are not 2xx/3xx: no response() hook, which would cost wrk a parse per answer).
-- Usage: wrk ... -s bench/lib/wrk-post.lua URL -- BODY_FILE [HEADER ...]
local bodies = {}
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end

local n = 0
function request()
  n = n % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[n])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%f,"p50Us":%f,"p99Us":%f,"socketErrors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
