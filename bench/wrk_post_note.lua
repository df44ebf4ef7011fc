-- wrk_json.lua's summary, each request a POST of one note as JSON (the writes benchmark).
dofile("bench/wrk_json.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "benchmark note", "body": "written by wrk to measure database writes per second"}'
