-- direct.lua: the scalar schedule, for a floating-point unit without vectors
-- (Cortex-M, any C99 compiler) and for channels-last tensors.  No local arrays,
-- no copies, no library calls: each op walks the blocks of positions whose
-- kernel taps are the same (plan.lua, decided at generation time) and keeps a
-- block of outputs in scalar registers, so each weight and each source element
-- loaded feeds several multiply-adds.  Every index is an int expression from
-- the strides of the layout, in one place (strides below); the templates
-- print what this file returns.

local plan = require "plan"

local direct = {}

-- Return the strides, in elements, of the layer's four arrays: I and its
-- gradient (n, c, y, x), Y and its gradient (n, k, i, j), the weight
-- (k, c, m, q).  NCHW and OIHW, or with --layout nhwc NHWC and OHWI.
function direct.strides(L)
  local cg = L.c // L.g
  if L.layout == "nhwc" then
    return { I = { n = L.h * L.w * L.c, c = 1, y = L.w * L.c, x = L.c },
             Y = { n = L.oh * L.ow * L.k, c = 1, y = L.ow * L.k, x = L.k },
             W = { k = L.k1 * L.k2 * cg, c = 1, m = L.k2 * cg, q = cg } }
  end
  return { I = { n = L.c * L.h * L.w, c = L.h * L.w, y = L.w, x = 1 },
           Y = { n = L.k * L.oh * L.ow, c = L.oh * L.ow, y = L.ow, x = 1 },
           W = { k = cg * L.k1 * L.k2, c = L.k1 * L.k2, m = L.k2, q = 1 } }
end

-- Return the bytes a frame of the scalar schedule takes at most, when its
-- largest block has 'values' scalars that the compiler may all spill: a slot
-- each, and the target's allowance for saved registers.  test_layers checks it
-- against gcc's -fstack-usage on every target, at -O2 and -Os.
function direct.frame(S, values)
  return S.direct_frame + values * S.size
end

-- Return the largest divisor of 'n' that is at most 'cap' (at least 1).
local function divisor_at_most(n, cap)
  for d = math.max(1, math.min(n, cap)), 1, -1 do
    if n % d == 0 then return d end
  end
  return 1
end

-- The register budget of one block: what the FPU holds for T, less a few for
-- the compiler's own temporaries.
local function budget(S)
  return math.max(S.direct_min_registers, S.registers - S.direct_reserved)
end

-- Return the step of tap index and of source offset from one row of taps of
-- 'rtaps' to the next, if both are constant (nil otherwise).
local function row_steps(rtaps)
  if #rtaps < 2 then return nil end
  local dm, doff = rtaps[2].t - rtaps[1].t, rtaps[2].off - rtaps[1].off
  for i = 3, #rtaps do
    if rtaps[i].t - rtaps[i - 1].t ~= dm or rtaps[i].off - rtaps[i - 1].off ~= doff then return nil end
  end
  return dm, doff
end

-- Whether block 'b' runs its rows of taps as a loop under schedule S: more taps
-- than S.unroll_taps, rows a constant step apart.
local function loops_rows(S, b)
  return S.unroll_taps ~= nil and #b.taps > S.unroll_taps and row_steps(b.rtaps) ~= nil
end

-- Return one step of a block: the values 'loads' loads ({ name, src, index,
-- mask }: src[index], masked with the same element of 'mask' under a fused
-- ReLU) and the multiply-adds 'madds' then makes ({ acc, a, b }: acc += a*b).
local function step(loads, madds)
  return { loads = loads, madds = madds }
end

-- Return the step of one tap of a gather block of OB output channels and r
-- columns: the tap's OB weights at 'wbase' + 'woff', its r sources at 'sbase'
-- + 'soff' (column k 'sx' further), then every sum's multiply-add.  'tag' ends
-- the names of the tap's values.
local function gather_tap(P, OB, r, wbase, woff, sbase, soff, sx, tag)
  local loads, madds = {}, {}
  for o = 0, OB - 1 do
    loads[#loads + 1] = { name = "w" .. o .. tag, src = "weight", index = wbase .. " + " .. (o * P.WO + woff) }
  end
  for k = 0, r - 1 do
    loads[#loads + 1] = { name = "x" .. k .. tag, src = P.SRC, mask = P.SRC_Y,
                          index = sbase .. " + " .. (soff + k * sx) }
  end
  for o = 0, OB - 1 do
    for k = 0, r - 1 do
      madds[#madds + 1] = { acc = string.format("a%d_%d", o, k), a = "x" .. k .. tag, b = "w" .. o .. tag }
    end
  end
  return step(loads, madds)
end

-- Set the loops of gather block 'b' (plan.gather_blocks, without widths) of plan
-- 'P' and return its multiply-adds per pass: output position (rstep*u + rphase,
-- cstep*v + cphase) reads, for tap (m, q), source position (rsrc*u + off_m,
-- csrc*v + off_q).  Its loops over u and v run in register blocks of R columns,
-- OB output channels each: b.variants, each over columns v0..v1-1 in steps
-- of r, with its sums (name, init), its
-- steps or, for a block of more taps than S.unroll_taps, a loop over its rows
-- of taps (rows: count, w_step, s_step and the steps of one row), and its
-- stores (the sum acc into output oi + off).
local function gather_loops(P, S, b, OB, R)
  local rs, cs = b.rseg, b.cseg
  -- Index of the position's output, and of its tap (0, 0) source, from u and v.
  b.out = plan.linear({ { "u", rs.step * P.OY }, { "v", cs.step * P.OX } },
                      rs.phase * P.OY + cs.phase * P.OX)
  b.src = plan.linear({ { "u", rs.src_step * P.SY }, { "v", cs.src_step * P.SX } }, 0)
  local sx = cs.src_step * P.SX
  local function variant(r, v0, v1)
    local var = { r = r, v0 = v0, v1 = v1, sums = {}, steps = {}, stores = {} }
    for o = 0, OB - 1 do
      for k = 0, r - 1 do
        var.sums[#var.sums + 1] = { name = string.format("a%d_%d", o, k), init = P.BIAS and "b" .. o or "0" }
        var.stores[#var.stores + 1] = { acc = string.format("a%d_%d", o, k), off = o * P.OO + k * cs.step * P.OX }
      end
    end
    if loops_rows(S, b) then
      local dm, doff = row_steps(b.rtaps)
      local t0 = b.rtaps[1]
      -- The loop walks its source rows upward in memory, whatever the order
      -- of the taps: gcc 12 vectorizes a downward walk over a group of taps
      -- with full-width loads that read past the array (docs/verify.md,
      -- "What the proof caught").
      if doff * P.SY < 0 then
        t0, dm, doff = b.rtaps[#b.rtaps], -dm, -doff
      end
      var.rows = { count = #b.rtaps, w_step = dm * P.WM, s_step = doff * P.SY, steps = {} }
      for _, tq in ipairs(b.ctaps) do
        var.rows.steps[#var.rows.steps + 1] = gather_tap(P, OB, r, "wr", t0.t * P.WM + tq.t * P.WQ,
          "sr", t0.off * P.SY + tq.off * P.SX, sx, "_q" .. tq.t)
      end
    else
      for _, t in ipairs(b.taps) do
        var.steps[#var.steps + 1] = gather_tap(P, OB, r, "wi", t.m * P.WM + t.q * P.WQ,
          "si", t.roff * P.SY + t.coff * P.SX, sx, string.format("_m%d_q%d", t.m, t.q))
      end
    end
    return var
  end
  -- R columns at a time from j0 while R fit, then one at a time from vmain.
  b.variants = {}
  local width = b.j1 - b.j0
  local vmain = b.j0
  if R > 1 and width >= R then
    vmain = b.j0 + width // R * R
    b.variants[1] = variant(R, b.j0, vmain)
  end
  if vmain < b.j1 then b.variants[#b.variants + 1] = variant(1, vmain, b.j1) end
  return #b.taps * width * (b.i1 - b.i0)
end

-- Return the plan of a gather under schedule S, from its geometry G.
local function gather_plan(L, S, G)
  local blocks = plan.gather_blocks(G.rows, G.cols)
  -- Taps of the largest block, and the most whose values live at once (one row
  -- of taps where the rows are a loop).
  local most, live = 0, 0
  for _, b in ipairs(blocks) do
    most = math.max(most, #b.taps)
    live = math.max(live, loops_rows(S, b) and #b.ctaps or #b.taps)
  end
  local regs = budget(S)
  -- Columns a block holds (R) and output channels (OB): R*OB sums, R sources and
  -- OB weights of one tap live at once, and the frame must hold every value of
  -- the block should the compiler load them all early (direct.frame).
  local R, ob = 1, 1
  -- Where every tap is unrolled, gcc loads the next taps' values early: leave
  -- registers for the taps in flight.
  local spread = live < most and 1 or S.direct_taps_in_flight
  -- --optimize size: one output at a time, the smallest code.
  local most_cols = math.min(S.direct_columns, math.max(1, regs // S.direct_column_registers))
  for r = L.optimize == "size" and 1 or most_cols, 1, -1 do
    local o = L.optimize == "size" and 1 or divisor_at_most(G.group_out, (regs - spread * r) // (r + spread))
    while o > 1 and direct.frame(S, o * r + live * (o + r)) > S.stack_limit do
      o = divisor_at_most(G.group_out, o - 1)
    end
    if direct.frame(S, o * r + live * (o + r)) <= S.stack_limit then
      R, ob = r, o
      break
    end
  end
  local P = G.P
  P.OB, P.R, P.MACS = ob, R, 0
  -- Register blocks only where the whole window is valid; the border blocks are
  -- few positions, and there one output at a time keeps the code small, in a
  -- second pass over the channels.
  local inner = { ob = ob, blocks = {} }
  local border = ob > 1 and { ob = 1, blocks = {} } or inner
  -- The bias of each output channel of a pass's block (forward).
  for _, pass in ipairs({ inner, border }) do
    pass.biases = {}
    for o = 0, pass.ob - 1 do pass.biases[o + 1] = { name = "b" .. o, index = "k + " .. o } end
  end
  for _, b in ipairs(blocks) do
    local full = #b.taps == most
    local pass = full and inner or border
    P.MACS = P.MACS + gather_loops(P, S, b, pass.ob, full and R or 1)
    pass.blocks[#pass.blocks + 1] = b
  end
  P.PASSES = { inner }
  if border ~= inner and #border.blocks > 0 then P.PASSES[2] = border end
  P.HAS_TAPS = most > 0
  P.MACS = P.MACS * G.sum_count * G.out_count * L.n
  P.CALL_MACS = P.MACS
  -- Values of the largest block: its sums, and every live tap's sources and weights.
  P.LIVE = ob * R + live * (ob + R)
  return P
end

-- Return the forward plan: Y[n,k] gathered from the input channels of k's group.
function direct.forward(L, S)
  local st = direct.strides(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local P = {
    OP = "forward", OUT = "output", SRC = "input",
    OUTER = "k", OUTER_COUNT = L.k, SUM = "c", SUM_COUNT = cg,
    -- Bases at (n, outer channel), and the strides of the summed channel.
    SRC_BASE = plan.linear({ { "n", st.I.n }, { kg == 1 and "k" or ("k / " .. kg), cg * st.I.c } }, 0),
    SRC_SUM = st.I.c, W_BASE = plan.linear({ { "k", st.W.k } }, 0), W_SUM = st.W.c,
    OUT_BASE = plan.linear({ { "n", st.Y.n }, { "k", st.Y.c } }, 0),
    SY = st.I.y, SX = st.I.x, OY = st.Y.y, OX = st.Y.x, OO = st.Y.c,
    WO = st.W.k, WM = st.W.m, WQ = st.W.q,
    -- Sums start from the bias; the stores apply the fused activation.
    BIAS = true, ACT = true,
  }
  return gather_plan(L, S, {
    P = P, group_out = kg, sum_count = cg, out_count = L.k,
    rows = plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh),
    cols = plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw),
  })
end

-- Return the grad_input plan: dI[n,ch] gathered, phase by phase, from dY of
-- the output channels of ch's group.
function direct.grad_input(L, S)
  local st = direct.strides(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local group = cg == 1 and "c" or ("c / " .. cg)
  local P = {
    OP = "grad_input", OUT = "grad_input", SRC = "grad_output",
    SRC_Y = L.relu and "output" or nil,
    OUTER = "c", OUTER_COUNT = L.c, SUM = "k", SUM_COUNT = kg,
    SRC_BASE = plan.linear({ { "n", st.Y.n }, { group, kg * st.Y.c } }, 0), SRC_SUM = st.Y.c,
    W_BASE = plan.linear({ { group, kg * st.W.k }, { cg == 1 and "0" or ("c % " .. cg), st.W.c } }, 0),
    W_SUM = st.W.k,
    OUT_BASE = plan.linear({ { "n", st.I.n }, { "c", st.I.c } }, 0),
    SY = st.Y.y, SX = st.Y.x, OY = st.I.y, OX = st.I.x, OO = st.I.c,
    WO = st.W.c, WM = st.W.m, WQ = st.W.q,
  }
  if cg == 1 then P.W_BASE = plan.linear({ { "c", kg * st.W.k } }, 0) end
  return gather_plan(L, S, {
    P = P, group_out = cg, sum_count = kg, out_count = L.c,
    rows = plan.grad_input_axis(L.h, L.oh, L.k1, L.sh, L.ph, L.dh),
    cols = plan.grad_input_axis(L.w, L.ow, L.k2, L.sw, L.pw, L.dw),
  })
end

-- Return the steps of r positions of a grad_weight block: the dY of KB channels
-- at the r positions, then row by row of 'taps', the distinct sources the row's
-- taps read there, each loaded once, and every tap's sums.
local function gw_steps(L, st, kb, taps, r)
  local function src(m, col)
    return string.format(col < 0 and "x_m%d_cm%d" or "x_m%d_c%d", m, math.abs(col))
  end
  local dys = {}
  for o = 0, kb - 1 do
    for k = 0, r - 1 do
      dys[#dys + 1] = { name = string.format("d%d_%d", o, k), src = "grad_output", mask = "output",
                        index = string.format("di + %d + oi", o * st.Y.c + k * st.Y.x) }
    end
  end
  local steps = { step(dys, {}) }
  local rows, order = {}, {}
  for _, t in ipairs(taps) do
    if not rows[t.m] then rows[t.m] = {}; order[#order + 1] = t.m end
    table.insert(rows[t.m], t)
  end
  for _, m in ipairs(order) do
    local loads, madds, loaded = {}, {}, {}
    for _, t in ipairs(rows[m]) do
      for k = 0, r - 1 do
        local col = t.coff + k * L.sw
        if not loaded[col] then
          loaded[col] = true
          loads[#loads + 1] = { name = src(m, col), src = "input",
                                index = string.format("xi + %d + si", t.roff * st.I.y + col * st.I.x) }
        end
      end
    end
    -- Position by position, so consecutive multiply-adds feed different sums.
    for k = 0, r - 1 do
      for _, t in ipairs(rows[m]) do
        for o = 0, kb - 1 do
          madds[#madds + 1] = { acc = string.format("a%d_m%d_q%d", o, t.m, t.q),
                                a = string.format("d%d_%d", o, k), b = src(m, t.coff + k * L.sw) }
        end
      end
    end
    steps[#steps + 1] = step(loads, madds)
  end
  return steps
end

-- Return the grad_weight blocks of 'blocks' (plan.gather_blocks) for the taps that
-- 'keep' accepts, cr columns at a time where a block is that wide, and their
-- multiply-adds for one output channel block and input channel.
local function gw_blocks(L, st, kb, cr, blocks, keep)
  local out, macs = {}, 0
  for _, b in ipairs(blocks) do
    local taps = {}
    for _, t in ipairs(b.taps) do
      if keep(t) then taps[#taps + 1] = t end
    end
    if #taps > 0 then
      local width = b.j1 - b.j0
      local r = width >= cr and cr or 1
      local vmain = b.j0 + width // r * r
      local parts = { { v0 = b.j0, v1 = vmain, step = r, steps = gw_steps(L, st, kb, taps, r) } }
      if vmain < b.j1 then parts[2] = { v0 = vmain, v1 = b.j1, step = 1, steps = gw_steps(L, st, kb, taps, 1) } end
      out[#out + 1] = {
        u0 = b.i0, u1 = b.i1, parts = parts,
        out = plan.linear({ { "u", st.Y.y }, { "v", st.Y.x } }, 0),
        src = plan.linear({ { "u", L.sh * st.I.y }, { "v", L.sw * st.I.x } }, 0),
      }
      macs = macs + #taps * kb * (b.i1 - b.i0) * width
    end
  end
  return out, macs
end

-- Return the columns grad_weight steps at a time: CR dY values per channel and
-- one row's sources over CR positions beside 'sums' sums in the registers, all
-- of which may spill.
local function gw_columns(L, S, sums, kb, taps)
  if L.optimize == "size" then return 1 end
  local regs = budget(S)
  for r = S.direct_columns, 2, -1 do
    if sums + kb * r + L.k2 + (r - 1) * L.sw <= regs and direct.frame(S, sums + kb * r + taps * r) <= S.stack_limit then
      return r
    end
  end
  return 1
end

-- Fill in grad_weight plan P one row of taps at a time: a group of the K2 taps
-- of tap row 0 stands for row m, the rows are a run-time loop (its offset m*dh
-- goes into xi), each over the output rows where it is valid (P.ROWS).
local function gw_rows(L, S, P, st, cols)
  local cg, kg = L.c // L.g, L.k // L.g
  local kb = divisor_at_most(kg, math.max(1, budget(S) // (L.k2 + 1)))
  while kb > 1 and direct.frame(S, kb * L.k2 + kb + L.k2) > S.stack_limit do kb = divisor_at_most(kg, kb - 1) end
  local cr = gw_columns(L, S, kb * L.k2, kb, L.k2)
  local row = { { phase = 0, step = 1, count = 1, src_step = L.sh,
                  runs = { { first = 0, last = 0, taps = { { t = 0, off = -L.ph } } } } } }
  local grp = { accs = {}, stores = {} }
  for o = 0, kb - 1 do
    for q = 0, L.k2 - 1 do
      grp.accs[#grp.accs + 1] = string.format("a%d_m0_q%d", o, q)
      grp.stores[#grp.stores + 1] = { index = "wi + " .. plan.linear({ { "m", st.W.m } }, o * st.W.k + q * st.W.q),
                                      value = string.format("a%d_m0_q%d", o, q) }
    end
  end
  local per_row
  grp.blocks, per_row = gw_blocks(L, st, kb, cr, plan.gather_blocks(row, cols), function() return true end)
  for _, b in ipairs(grp.blocks) do b.u0, b.u1 = "rows_lo[m]", "rows_hi[m]" end
  -- The output rows where tap row m reads inside the input.
  local lo, hi, valid = {}, {}, 0
  for _, t in ipairs(plan.forward_taps(L.h, L.k1, L.sh, L.ph, L.dh)) do
    local a, b = math.max(0, t.lo), math.min(L.oh - 1, t.hi)
    if b < a then a, b = 0, -1 end
    lo[#lo + 1], hi[#hi + 1] = a, b + 1
    valid = valid + b + 1 - a
  end
  P.ROWS = { LO = table.concat(lo, ", "), HI = table.concat(hi, ", "), X_STEP = L.dh * st.I.y }
  -- Tap row m's first source: its offset m*dh rows.
  P.XI = P.X_BASE .. " + m * " .. P.ROWS.X_STEP
  P.GROUPS[1] = grp
  P.HAS_TAPS = #grp.blocks > 0 and valid > 0
  P.KB, P.TG, P.CR, P.LIVE = kb, L.k2, cr, kb * L.k2 + kb * cr + L.k2 * cr
  P.MACS = per_row * valid * L.n * cg * (L.k // kb)
end

-- Fill in grad_weight plan P in groups of up to TG taps, every tap unrolled.
local function gw_tap_groups(L, S, P, st, cols)
  local cg, kg = L.c // L.g, L.k // L.g
  local regs, ntaps = budget(S), L.k1 * L.k2
  local kb = L.optimize == "size" and 1 or divisor_at_most(kg, math.max(1, regs // (ntaps + 1)))
  local tg = math.max(1, math.min(ntaps, regs // kb - 1))
  -- Sums, one dY per channel and one source per tap, all of which may spill.
  while tg > 1 and direct.frame(S, kb * tg + kb + tg) > S.stack_limit do tg = tg - 1 end
  local cr = gw_columns(L, S, kb * tg, kb, tg)
  local blocks = plan.gather_blocks(plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh), cols)
  P.KB, P.TG, P.CR, P.LIVE = kb, tg, cr, kb * tg + kb * cr + tg * cr
  for t0 = 0, ntaps - 1, tg do
    local grp = { accs = {}, stores = {} }
    local t1 = math.min(ntaps, t0 + tg) - 1
    for t = t0, t1 do
      local m, q = t // L.k2, t % L.k2
      for o = 0, kb - 1 do
        grp.accs[#grp.accs + 1] = string.format("a%d_m%d_q%d", o, m, q)
        grp.stores[#grp.stores + 1] = { index = "wi + " .. (o * st.W.k + m * st.W.m + q * st.W.q),
                                        value = string.format("a%d_m%d_q%d", o, m, q) }
      end
    end
    local macs
    grp.blocks, macs = gw_blocks(L, st, kb, cr, blocks, function(t)
      local i = t.m * L.k2 + t.q
      return i >= t0 and i <= t1
    end)
    P.MACS = P.MACS + macs
    P.GROUPS[#P.GROUPS + 1] = grp
    P.HAS_TAPS = P.HAS_TAPS or #grp.blocks > 0
  end
  P.MACS = P.MACS * L.n * cg * (L.k // kb)
end

-- Return the grad_weight plan: for KB output channels and one input channel at
-- a time, the sums of a group of taps stay in registers over the whole batch
-- and every position; each dY element loaded feeds all of them.  Beyond the
-- target's unroll_taps, a group is one row of taps, and the rows are a loop
-- (gw_rows); else the taps go in groups (gw_tap_groups).
function direct.grad_weight(L, S)
  local st = direct.strides(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local ntaps = L.k1 * L.k2
  local rows = L.optimize ~= "size" and S.unroll_taps ~= nil and ntaps > S.unroll_taps and L.k1 > 1
  local cols = plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw)
  local P = {
    GROUPS = {}, MACS = 0,
    X_BASE = plan.linear({ { "n", st.I.n }, { kg == 1 and "k" or ("k / " .. kg), cg * st.I.c },
                           { "c", st.I.c } }, 0),
    D_BASE = plan.linear({ { "n", st.Y.n }, { "k", st.Y.c } }, 0),
    W_BASE = plan.linear({ { "k", st.W.k }, { "c", st.W.c } }, 0),
  }
  P.XI = P.X_BASE
  if rows then gw_rows(L, S, P, st, cols) else gw_tap_groups(L, S, P, st, cols) end
  P.CALL_MACS = P.MACS
  return P
end

-- Return the grad_bias plan: ACC independent sums over each output channel's
-- positions (a chain of dependent adds would wait on the FPU's latency).
function direct.grad_bias(L, S)
  local st = direct.strides(L)
  local acc = math.min(S.direct_bias_sums, L.oh * L.ow)
  local P = {
    ACC = acc, COUNT = L.oh * L.ow, MAIN = L.oh * L.ow - L.oh * L.ow % acc,
    BASE = plan.linear({ { "n", st.Y.n }, { "k", st.Y.c } }, 0),
    -- Positions (i, j) in order are evenly spaced in either layout.
    STEP = L.layout == "nhwc" and L.k or 1, LIVE = acc + 1,
    SUMS = {}, READS = {},
  }
  for a = 0, acc - 1 do
    P.SUMS[#P.SUMS + 1] = "s" .. a
    P.READS[#P.READS + 1] = { sum = "s" .. a, index = "base + " .. plan.linear({ { "p", P.STEP } }, a * P.STEP) }
  end
  P.TAIL_READ = "base + " .. plan.linear({ { "p", P.STEP } }, 0)
  return P
end

-- Return the plan of --optimize size: one loop nest per op whose kernel taps
-- are bounded at run time, once per output row and column, so its size does
-- not grow with the border cases; grad_input scatters each dY element over the
-- inputs its window read (as forward's loops walk them).
function direct.size_plan(L)
  local st = direct.strides(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local group = kg == 1 and "k" or ("k / " .. kg)
  local P = {
    -- Elements of I (channel c of k's group, position y, x), Y (k; i, j), W (k, c, m, q).
    X = plan.linear({ { "n", st.I.n }, { group, cg * st.I.c }, { "c", st.I.c }, { "y", st.I.y },
                      { "x", st.I.x } }, 0),
    Y = plan.linear({ { "n", st.Y.n }, { "k", st.Y.c }, { "i", st.Y.y }, { "j", st.Y.x } }, 0),
    W = plan.linear({ { "k", st.W.k }, { "c", st.W.c }, { "m", st.W.m }, { "q", st.W.q } }, 0),
    -- Source row and column of tap (m, q) at output (i, j).
    ROW = plan.linear({ { "i", L.sh }, { "m", L.dh } }, -L.ph),
    COL = plan.linear({ { "j", L.sw }, { "q", L.dw } }, -L.pw),
    -- Source row and column of tap 0 at output (i, j).
    Y0 = plan.linear({ { "i", L.sh } }, -L.ph),
    X0 = plan.linear({ { "j", L.sw } }, -L.pw),
    -- The taps of an output row (m0..m1-1) and column (q0..q1-1) that read inside
    -- the input, bounded from y0 and x0 (templates/direct_size_bounds.c.in).
    ROW_TAPS = { origin = "y0", lo = "m0", hi = "m1", step = L.dh, size = L.h },
    COL_TAPS = { origin = "x0", lo = "q0", hi = "q1", step = L.dw, size = L.w },
    -- Source row of tap m at output row i0, and at the row before i1; columns alike.
    FIRST_ROW = plan.linear({ { "i0", L.sh }, { "m", L.dh } }, -L.ph),
    LAST_ROW = plan.linear({ { "i1", L.sh }, { "m", L.dh } }, -L.ph - L.sh),
    FIRST_COL = plan.linear({ { "j0", L.sw }, { "q", L.dw } }, -L.pw),
    LAST_COL = plan.linear({ { "j1", L.sw }, { "q", L.dw } }, -L.pw - L.sw),
  }
  return P
end

return direct
