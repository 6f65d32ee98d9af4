-- Whether a call charged to some methods may go: each method's verdict, as
-- MethodBudget::check computes it (a spread slot is reserved, an ended 429 block is
-- forgotten). The caller combines the verdicts.
--
-- KEYS     one hash per method: o operating ms, r reset at, c reset clamped (0/1),
--          b blocked until, n next free spread slot (times in unix milliseconds of the
--          callers' clocks, which are the portal's)
-- ARGV[1]  now, unix milliseconds
-- ARGV[2]  the hold line, milliseconds of operating time
-- ARGV[3]  the slow line, milliseconds of operating time (at most the hold line)
-- ARGV[4]  the largest spacing, milliseconds
-- ARGV[5]  the reset margin, milliseconds
-- ARGV[6]  how long a key outlives the last time it matters, milliseconds
--
-- Returns three numbers per key: the verdict (0 go, 1 spread, 2 hold), its time (the
-- slot or the end of the hold; 0 for go), and the method's reset time (-1 if none).
local now = tonumber(ARGV[1])
local hold_line = tonumber(ARGV[2])
local slow_line = tonumber(ARGV[3])
local max_spacing = tonumber(ARGV[4])
local reset_margin = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])

local function fmt(n) return string.format('%.0f', n) end

local function keep(key, s)
  local deadline = now
  if s.r then deadline = math.max(deadline, s.r + reset_margin) end
  if s.b then deadline = math.max(deadline, s.b) end
  if s.n then deadline = math.max(deadline, s.n) end
  local ttl = deadline - now + margin
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, fmt(ttl))
  end
end

-- Read and check every key before writing anything: a script's writes are not
-- undone by a later error.
local states = {}
for _, key in ipairs(KEYS) do
  if not states[key] then
    local f = redis.call('HMGET', key, 'o', 'r', 'b', 'n')
    local s = {}
    local names = {'o', 'r', 'b', 'n'}
    for i, name in ipairs(names) do
      if f[i] then
        s[name] = tonumber(f[i])
        if not s[name] then
          return redis.error_reply('B24CORRUPT a budget field holds no number')
        end
      end
    end
    states[key] = s
  end
end

local out = {}
for _, key in ipairs(KEYS) do
  local s = states[key]
  local kind, at = 0, 0
  local blocked = false
  if s.b then
    if s.b > now then
      kind, at, blocked = 2, s.b, true
    else
      redis.call('HDEL', key, 'b')
      s.b = nil
    end
  end
  if not blocked and s.r and s.r > now then
    local operating = s.o or 0
    if operating > hold_line then
      kind, at = 2, s.r + reset_margin
    elseif operating >= slow_line then
      local span = math.max(hold_line - slow_line, 1)
      local spacing = math.floor(max_spacing * (operating - slow_line) / span)
      local slot = math.max(now, s.n or 0)
      s.n = slot + spacing
      redis.call('HSET', key, 'n', fmt(s.n))
      keep(key, s)
      if slot > now then
        kind, at = 1, slot
      end
    end
  end
  out[#out + 1] = kind
  out[#out + 1] = at
  out[#out + 1] = s.r or -1
end
return out
