-- rolling.lua: rolling rows, shared by the gather planner (forward, grad_input)
-- and the grad_weight planner.  One output row per iteration inside a column
-- strip; the source vectors of the window's upper rows are carried in lane
-- arrays (one register each) from row to row, so each source vector is loaded
-- once, not once per tap (gcc 12 folds every load into its multiply-add, and
-- most of those loads straddle cache lines).

local plan = require "plan"

local rolling = {}

-- Return the rolling window of 'taps' (each with roff and coff, the source row
-- and column offsets of the tap) read through 'src', whose rows are 'rw'
-- elements apart and whose columns are 'cj' apart, or nil unless the taps are
-- a full rectangle over consecutive rows.  The window has rows and cols (its
-- extent), loads (the fresh vectors of its last row, f_q*), carried (the lane
-- arrays of the rows above, c_r*_q*, filled at the top of a strip), rotate (what
-- moves up a row after each output row) and x(t), the lane expression of tap t.
function rolling.window(taps, rw, cj, src)
  local rows, cols, rlist, clist = {}, {}, {}, {}
  for _, t in ipairs(taps) do
    if not rows[t.roff] then rows[t.roff] = true; rlist[#rlist + 1] = t.roff end
    if not cols[t.coff] then cols[t.coff] = true; clist[#clist + 1] = t.coff end
  end
  table.sort(rlist)
  table.sort(clist)
  if rlist[#rlist] - rlist[1] ~= #rlist - 1 or #rlist * #clist ~= #taps then return nil end
  local rmin, rmax = rlist[1], rlist[#rlist]
  local win = { rows = #rlist, cols = #clist, loads = {}, carried = {}, rotate = {} }
  local function cname(k, ci) return string.format("c_r%d_q%d", k, ci) end
  local col = {}
  for ci, c in ipairs(clist) do
    col[c] = ci - 1
    local f = string.format("f_q%d", ci - 1)
    win.loads[#win.loads + 1] = { name = f, src = src,
      index = plan.linear({ { "i", rw }, { "j", cj }, { "l", cj } }, rmax * rw + c) }
    for k = 0, #rlist - 2 do
      win.carried[#win.carried + 1] = { name = cname(k, ci - 1), src = src,
        index = plan.linear({ { "ib", rw }, { "j", cj }, { "l", cj } }, (rmin + k) * rw + c) }
      win.rotate[#win.rotate + 1] = { dst = cname(k, ci - 1),
        value = k == #rlist - 2 and f or (cname(k + 1, ci - 1) .. "[l]") }
    end
  end
  function win.x(t)
    if t.roff == rmax then return string.format("f_q%d", col[t.coff]) end
    return cname(t.roff - rmin, col[t.coff]) .. "[l]"
  end
  return win
end

-- Set g.rb, the output rows of one column strip of rows i0..i1-1, and g.ie, the
-- C expression of the strip's end.  A strip spans all rows if they fit the
-- cache (S.strip_bytes, rows of 'row_elems' elements, 'window_rows' more for the
-- window), else S.strip_rows_min to S.strip_rows_max rows, so that what a strip
-- touches is still in L1 for the next strip (dw 56x56 10% slower in two strips
-- than in one).
function rolling.strip_rows(g, i0, i1, row_elems, window_rows, S)
  g.rb = i1 - i0
  local fit = S.strip_bytes // (row_elems * S.size)
  if fit < g.rb + window_rows then g.rb = math.max(S.strip_rows_min, math.min(S.strip_rows_max, fit)) end
  g.ie = g.rb >= i1 - i0 and tostring(i1)
    or string.format("ib + %d < %d ? ib + %d : %d", g.rb, i1, g.rb, i1)
end

return rolling
