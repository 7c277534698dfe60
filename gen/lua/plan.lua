-- plan.lua: where the kernel window meets the border, decided at generation time.
-- Every function here works on one axis and only on numbers: the templates
-- print what it returns and do no index arithmetic of their own.

local plan = {}

-- Return floor(a / b) for integers, b > 0.
local function fdiv(a, b) return a // b end

-- Return ceil(a / b) for integers, b > 0.
local function cdiv(a, b) return -((-a) // b) end

-- Return the runs of output positions 0..out-1 along one axis whose set of
-- valid taps is the same.  Tap t is valid at output o when the input position
-- o*stride + t*dil - pad lies in [0, size): an interval of o, so the runs are
-- cut where some tap's interval starts or ends (at most 2*taps+1 runs).
-- Each run is { first = o0, last = o1, taps = { t... } }, 0-based and inclusive.
function plan.runs(out, size, taps, stride, pad, dil)
  local cuts = { [0] = true, [out] = true }
  local lo, hi = {}, {}
  for t = 0, taps - 1 do
    lo[t] = cdiv(pad - t * dil, stride)
    hi[t] = fdiv(size - 1 + pad - t * dil, stride)
    for _, c in ipairs({ lo[t], hi[t] + 1 }) do
      if c > 0 and c < out then cuts[c] = true end
    end
  end
  local points = {}
  for c in pairs(cuts) do points[#points + 1] = c end
  table.sort(points)
  local runs = {}
  for r = 1, #points - 1 do
    local first, last = points[r], points[r + 1] - 1
    local valid = {}
    for t = 0, taps - 1 do
      if lo[t] <= first and last <= hi[t] then valid[#valid + 1] = t end
    end
    runs[#runs + 1] = { first = first, last = last, taps = valid }
  end
  return runs
end

-- Return a C expression for sum(coef * var) + const, with literal numbers.
function plan.linear(terms, const)
  local s = ""
  for _, term in ipairs(terms) do
    local var, coef = term[1], term[2]
    if coef ~= 0 then
      local t = coef == 1 and var or (var .. " * " .. coef)
      s = s == "" and t or (s .. " + " .. t)
    end
  end
  if s == "" then return tostring(const) end
  if const > 0 then return s .. " + " .. const end
  if const < 0 then return s .. " - " .. -const end
  return s
end

-- Return the 2-D blocks of the output plane: one per (row run, column run)
-- with at least one tap, each listing its taps with the offset of the input
-- element they read relative to i*SH*W + j*SW.
function plan.blocks(L)
  local rows = plan.runs(L.OH, L.H, L.K1, L.SH, L.PH, L.DH)
  local cols = plan.runs(L.OW, L.W, L.K2, L.SW, L.PW, L.DW)
  local blocks = {}
  for _, r in ipairs(rows) do
    for _, c in ipairs(cols) do
      if #r.taps > 0 and #c.taps > 0 then
        local taps = {}
        for _, m in ipairs(r.taps) do
          for _, q in ipairs(c.taps) do
            taps[#taps + 1] = {
              m = m, q = q,
              offset = (m * L.DH - L.PH) * L.W + q * L.DW - L.PW,
            }
          end
        end
        blocks[#blocks + 1] = {
          i0 = r.first, i1 = r.last + 1, j0 = c.first, j1 = c.last + 1,
          n_points = (r.last - r.first + 1) * (c.last - c.first + 1),
          taps = taps,
        }
      end
    end
  end
  return blocks
end

-- Return the set of taps used by any block, in row-major order, as a list.
function plan.used_taps(L, blocks)
  local used = {}
  for _, b in ipairs(blocks) do
    for _, t in ipairs(b.taps) do used[t.m * L.K2 + t.q] = t end
  end
  local list = {}
  for idx = 0, L.K1 * L.K2 - 1 do
    if used[idx] then list[#list + 1] = used[idx] end
  end
  return list
end

-- Return the multiply-adds one output plane costs: sum over blocks of points * taps.
function plan.plane_macs(blocks)
  local n = 0
  for _, b in ipairs(blocks) do n = n + b.n_points * #b.taps end
  return n
end

return plan
