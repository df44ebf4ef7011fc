-- wrk's summary as one JSON line, prefixed so bench/loadgen.py can find it among wrk's own output.
-- ``unanswered`` (requests sent but not answered when the run ended) is known only to wrk_count.lua.
function summarize(summary, latency, unanswered)
   local e = summary.errors
   io.write(string.format(
      'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "unanswered": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p99.9": %d}}\n',
      summary.requests, summary.duration, summary.bytes, unanswered,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

done = function(summary, latency, requests)
   summarize(summary, latency, -1)
end
