-- wrk script of `open-loop` (bench/wrk_load.py): each wrk thread owns one keep-alive
-- connection and sends its share of the envelopes at *scheduled* times, message i at
-- t0 + i / rate (rate 0: as fast as the answers come, a closed loop). A thread writes, once
-- its last envelope is answered, one line per answer to <out>/wrk-<thread>.tsv:
--   <index> TAB <status> TAB <scheduled, epoch s> TAB <sent> TAB <answered> TAB <hub's id>
-- and stops. Times are CLOCK_REALTIME (through LuaJIT's FFI, wrk gives scripts no clock), the
-- clock the hub stamps delivered_at with, so ingest->delivered is taken from the same start.
--
-- Why one connection per thread: wrk's response() does not say which connection answered;
-- with one each, the answer is to the request that thread sent last.
--
-- Arguments after `--`: <bodies file> <out dir> <t0 epoch s> <rate msg/s> <token> <threads>
-- <method> <path> (GET sends no body: one request per envelope all the same, for a baseline).
-- The bodies file holds the envelopes separated by NUL bytes (an XML document has none).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_REALTIME = 0
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_REALTIME, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

function init(args)
  local bodies_path, out_dir, t0, rate, token = args[1], args[2], args[3], args[4], args[5]
  out = out_dir
  start = tonumber(t0)
  per_second = tonumber(rate)
  step = tonumber(args[6]) -- message i belongs to thread (i mod step) + 1
  method, path = args[7], args[8]
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/xml" }
  local f = assert(io.open(bodies_path, "rb"))
  local data = f:read("*a")
  f:close()
  mine = {} -- index -> body, only this thread's share
  total = 0
  for body in string.gmatch(data, "([^%z]+)") do
    if total % step == thread_index - 1 then
      mine[total] = body
    end
    total = total + 1
  end
  next_index = thread_index - 1
  current = nil
  answers = {}
end

local function due(i)
  if per_second <= 0 then
    return start
  end
  return start + i / per_second
end

function delay()
  local wait = due(next_index) - now()
  if wait <= 0 then
    return 0
  end
  return math.ceil(wait * 1000) -- wrk's timers have whole milliseconds: never early
end

-- request() only reads the schedule: wrk calls it once before the run to check the request
-- (script_verify_request), and again after a reconnect, which then resends the envelope
-- (the hub answers a repeat of an envelope's id as the same message). The answer advances.
function request()
  local i = next_index
  if mine[i] == nil then
    return wrk.format("GET", "/healthz") -- past this thread's share: never sent in practice
  end
  current = i
  sent_at = now()
  if method == "GET" then
    return wrk.format("GET", path, headers)
  end
  return wrk.format(method, path, headers, mine[i])
end

function response(status, _headers, body)
  if current == nil then
    return
  end
  local i = current
  current = nil
  next_index = i + step
  local id = string.match(body or "", '"id"%s*:%s*"([^"]+)"') or "-"
  table.insert(answers, string.format("%d\t%d\t%.6f\t%.6f\t%.6f\t%s", i, status, due(i), sent_at, now(), id))
  if mine[next_index] == nil then
    local path = out .. "/wrk-" .. thread_index .. ".tsv"
    local f = assert(io.open(path .. ".part", "w"))
    f:write(table.concat(answers, "\n"), "\n")
    f:close()
    assert(os.rename(path .. ".part", path)) -- whole or absent to the reader
    wrk.thread:stop()
  end
end
