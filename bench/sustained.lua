-- wrk script for bench/sustained.py: bench/ingest.lua's requests and exact 2xx count, sent at
-- a fixed rate instead of as fast as the server answers.
--
-- Usage: wrk ... -s bench/sustained.lua URL -- <body file> <signature> <delivery prefix> <slot ms>
--
-- <slot ms> is the time between two sends of one wrk thread (threads × 1000 / rate). Each
-- thread keeps a timetable of send slots on the monotonic clock; a connection that got its
-- answer waits (wrk's delay() hook) for the next free slot. So the offered rate holds while
-- connections are free; when the server falls behind, slots pass while every connection is
-- still waiting, and those requests go out late, at once, when connections free up (counted
-- as `late`: sent more than LATE_MS after their slot). wrk times a request from its send, so
-- a late request's wait for a connection is not in the latency (coordinated omission).
-- On exit it prints ingest.lua's line and one more:
--   sustained-lua: paced=<n> late=<n>

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "ingest.lua")

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } sustained_timespec;
int clock_gettime(int clock_id, sustained_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local LATE_MS = 10
local clock_now = ffi.new("sustained_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock_now)
  return tonumber(clock_now.tv_sec) * 1000 + tonumber(clock_now.tv_nsec) / 1e6
end

local paced_threads = {}
local ingest_setup = setup
local ingest_init = init
local ingest_done = done

function setup(thread)
  ingest_setup(thread)
  table.insert(paced_threads, thread)
end

function init(args)
  ingest_init(args)
  slot_ms = assert(tonumber(args[4]), "the fourth argument is the slot length in ms")
  next_slot = nil
  paced = 0
  late = 0
end

function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + slot_ms
  paced = paced + 1
  if slot < now - LATE_MS then
    late = late + 1
  end
  if slot <= now then
    return 0
  end
  return math.floor(slot - now)
end

function done(summary, latency, requests)
  ingest_done(summary, latency, requests)
  local total_paced, total_late = 0, 0
  for _, thread in ipairs(paced_threads) do
    total_paced = total_paced + thread:get("paced")
    total_late = total_late + thread:get("late")
  end
  io.write(string.format("sustained-lua: paced=%d late=%d\n", total_paced, total_late))
end
