-- bench/decide.lua: wrk script for the decision test of bench/run.sh.
--
--   wrk -t1 -c50 -d10s --latency -s bench/decide.lua http://127.0.0.1:PORT/_consent
--
-- Every request is `POST /_consent` with the JSON body {"categories": ["analytics"]}, as the
-- banner sends it, and an Origin header equal to "http://" .. the Host wrk sends (the
-- gateway refuses cross-site decisions). No Cookie header: each request is a new visitor,
-- so each one records a new decision event (a new consent id) in Redis.
wrk.method = "POST"
wrk.body = '{"categories": ["analytics"]}'
wrk.headers["Content-Type"] = "application/json"

function init(args)
   -- wrk.init has set Host ("127.0.0.1:PORT") before it calls this; the request is built
   -- after, so the Origin below is part of every request.
   wrk.headers["Origin"] = "http://" .. wrk.headers["Host"]
end
