-- wrk_json.lua, plus a count of the requests still unanswered when the run ends: wrk itself never
-- reports a request that got no answer at all (a server that stops answering shows 0 requests, 0 errors).
-- Per-request Lua calls cost wrk some speed: use it only for light load.
dofile("bench/wrk_json.lua")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   sent = 0
   answered = 0
end

function request()
   sent = sent + 1
   return wrk.format()
end

function response(status, headers, body)
   answered = answered + 1
end

done = function(summary, latency, requests)
   local unanswered = 0
   for _, thread in ipairs(threads) do
      unanswered = unanswered + thread:get("sent") - thread:get("answered")
   end
   summarize(summary, latency, unanswered)
end
