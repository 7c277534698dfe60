-- grad_weight.lua: the grad_weight plan.  Each dW element is a sum over n, i, j;
-- the sums run in lane arrays a_...[LANES] (one vector register each: gcc and
-- clang keep a local array that a fixed-count loop updates in a register), KB
-- output channels and up to TG taps at a time, RB output rows per iteration,
-- reduced across lanes at the end.  Lane sums of KC output channels are kept in
-- 'part' across the batch loop, so the (zero-padded, column-phase-split) copy of
-- an input plane is made once per sample.  The plan is made in the steps below,
-- each deciding one thing; 'c' carries their choices from step to step.

local plan = require "plan"
local rolling = require "rolling"

local grad_weight = {}

-- Return the divisor of 'n' that is a multiple of 'step', at most 'most' (at least 'step').
local function chunk_of(n, step, most)
  local best = step
  for d = step, n, step do
    if n % d == 0 and d <= most then best = d end
  end
  return best
end

-- Step 1, the tap groups: c.tg taps at a time (c.tloop: a run-time loop over
-- rectangles of taps), c.rb rows per iteration, c.roll whether rows may roll,
-- c.kc channels of lane sums kept across the batch.
local function tap_groups(L, S, c)
  local kb, ntaps = c.kb, c.ntaps
  if ntaps * kb <= S.gw_taps then
    c.tg = ntaps
  elseif kb * L.k2 <= S.gw_group then
    c.tg = (S.gw_group // (kb * L.k2)) * L.k2
  else
    c.tg = math.max(1, S.gw_group // kb)
  end
  -- A large window loops at run time over rectangles of TM x TQ taps (TM divides K1,
  -- TQ divides K2) instead of printing every tap group: code grows with the group, not
  -- with K1*K2.  Only with a padded copy (every tap valid) and unit column stride.
  if ntaps > S.gw_loop_taps and L.sw == 1 then
    local best = { tm = 1, tq = 1 }
    for tm = 1, L.k1 do
      for tq = 1, L.k2 do
        if L.k1 % tm == 0 and L.k2 % tq == 0 and tm * tq * kb <= S.gw_group
          and (tm * tq > best.tm * best.tq or (tm * tq == best.tm * best.tq and tq > best.tq)) then
          best = { tm = tm, tq = tq }
        end
      end
    end
    c.tloop = best
    c.tg = best.tm * best.tq
  end
  c.rb = kb * math.min(c.tg, ntaps) <= S.gw_two_rows and 2 or 1
  -- Rolling rows (rolling.lua): one dY row per iteration inside a column strip, the I
  -- vectors of the window's upper rows carried in registers from row to row.  KB output
  -- channels share each carried I vector: KB*taps sums, taps I vectors and KB dY values
  -- must fit the vector registers (32: KB 2 for 3x3 windows).
  c.roll = S.roll and not c.tloop and c.tg == ntaps and L.sh == 1 and L.dh == 1 and L.sw == 1
    and L.k1 > 1
    and (kb == 1 and 2 * ntaps + 1 <= S.gw_roll_one or kb > 1 and (kb + 1) * ntaps + kb <= S.gw_roll_two)
  c.kc = chunk_of(L.k // L.g, kb, math.max(kb, S.part_bytes // (c.tg * S.lanes * S.size)))
end

-- Step 2, the copies on the stack: c.dyv (dY in rows of whole vectors), c.view (a
-- zero-padded, column-phase-split copy of I, c.plane elements a phase).
local function copies(L, S, c)
  local lanes, size, pitch, vh = S.lanes, S.size, c.pitch, c.vh
  -- Rows of OW columns that are not a multiple of LANES would end in a partial-vector
  -- loop; with stride 1 down the rows, copy dY into rows of 'pitch' columns whose last
  -- ones are zero, so every row is whole vectors: the extra products are 0 * I.  The
  -- padded copy of I then gets one more (zero) row, read by the last row's extra columns.
  c.jcols = (L.ow + lanes - 1) // lanes * lanes
  c.dyv = L.sh == 1 and L.ow % lanes ~= 0 and L.sw * (vh + 1) * pitch * size <= S.copy_bytes
    and (L.sw * (vh + 1) * pitch + c.kb * L.oh * pitch + c.kc * c.tg * lanes) * size <= S.stack_bytes
  c.plane = (vh + (c.dyv and 1 or 0)) * pitch
  c.view = (c.dyv or L.ph + L.pw + L.eh + L.ew > 0 or L.sw > 1) and L.sw * c.plane * size <= S.copy_bytes
  if not c.view then c.tloop = nil end
  -- Rolling measured 1.5-1.9x faster without a padded copy (100x100 to 1024x1024, also
  -- with padding), but 0.65-1.3x with one (28x28 to 64x64: gcc 12 keeps the lane sums
  -- in memory there), so only without, except for KB > 1 (multi-channel 3x3): read
  -- through a restrict pointer, gcc keeps the 18 sums in registers (N8 16->32 32x32
  -- 138 -> 211-225 GFLOP/s).
  c.roll = c.roll and (not c.view or c.kb > 1)
  if c.roll then c.rb = 1 end
end

-- Step 3, the blocks of (i, j) whose taps are all valid: one over the padded copy,
-- or the border blocks of the input plane itself.
local function source_blocks(L, c)
  if not c.view then
    local rows = plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh)
    local cols = plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw)
    return plan.gather_blocks(rows, cols, L.ow, L.w)
  end
  -- Padded column X = SW*u + p is column u of phase plane p: tap q reads phase
  -- (q*DW) % SW at column j + (q*DW) // SW, contiguous in j for any stride.
  local taps = {}
  for m = 0, L.k1 - 1 do
    for q = 0, L.k2 - 1 do
      local x = q * L.dw
      taps[#taps + 1] = { m = m, q = q,
        off = (x % L.sw) * c.plane + m * L.dh * c.pitch + x // L.sw, roff = m * L.dh, coff = x }
    end
  end
  return { { i0 = 0, i1 = L.oh, j0 = 0, j1 = c.dyv and c.jcols or L.ow, src_i = L.sh * c.pitch,
             src_j = 1, taps = taps } }
end

-- Make group 'g' (one row part of block 'b', whose taps in this tap group are
-- 'bt') a rolling group when its window rolls.
local function roll_rows(S, c, b, bt, g, dpitch)
  if not (c.roll and #bt == c.ntaps and g.step == 1 and g.jmain - g.j0 >= S.lanes
          and g.i1 - g.i0 >= 2) then
    return
  end
  -- Taps as (source row, column) offsets; the rows of b are b.src_i apart.  The
  -- copy is read through a restrict pointer (see copies).
  local win = rolling.window(b.taps, b.src_i, 1, c.view and "xs" or "xn")
  if not win then return end
  g.roll, g.carried = true, win.carried
  local index = plan.linear({ { "i", dpitch }, { "j", 1 }, { "l", 1 } }, 0)
  local slot = {}
  for _, t in ipairs(bt) do slot[t.off] = t.slot end
  local dys, terms = {}, {}
  for kbo = 0, c.kb - 1 do
    dys[#dys + 1] = { name = string.format("e_k%d_r0", kbo), src = string.format("d%dp", kbo),
                      ysrc = not c.dyv and string.format("y%dp", kbo) or nil, index = index }
    for _, t in ipairs(b.taps) do
      terms[#terms + 1] = { acc = string.format("a_k%d_r0_t%d", kbo, slot[t.off]),
        e = dys[#dys].name, x = win.x(t) }
    end
  end
  -- At the top of a strip the carried rows fill; after each row they move up.
  local fills = {}
  for _, cr in ipairs(win.carried) do fills[#fills + 1] = { dst = cr.name, value = cr.src .. "[" .. cr.index .. "]" } end
  g.fill_lane = { count = S.lanes, loads = {}, dys = {}, terms = {}, sets = fills }
  g.roll_lane = { count = S.lanes, loads = win.loads, dys = dys, terms = terms, sets = win.rotate }
  rolling.strip_rows(g, g.i0, g.i1, b.src_i, win.rows, S)
end

-- Step 4, the row groups of block 'b' in one tap group ('bt': its taps there,
-- with their slots), added to grp.blocks; returns their multiply-adds per pass.
local function block_groups(L, S, c, b, bt, grp)
  local lanes, macs = S.lanes, 0
  local n_rows = b.i1 - b.i0
  local step = n_rows >= c.rb and c.rb or 1
  local main = b.i0 + (n_rows // step) * step
  local parts = { { b.i0, main, step } }
  if main < b.i1 then parts[#parts + 1] = { main, b.i1, 1 } end
  local jmain = b.j0 + ((b.j1 - b.j0) // lanes) * lanes
  for _, pr in ipairs(parts) do
    local g = { i0 = pr[1], i1 = pr[2], step = pr[3], j0 = b.j0, jmain = jmain,
                tail = b.j1 - jmain, src_i = b.src_i }
    g.xr = plan.linear({ { "i", b.src_i }, { "tm", c.tloop and L.dh * c.pitch or 0 },
                         { "tq", c.tloop and L.dw or 0 } }, 0)
    local dpitch = c.dyv and c.pitch or L.ow
    g.dr = plan.linear({ { "i", dpitch } }, 0)
    -- The lane loops of a row: over whole vectors from j, and the tail at jmain.
    -- dY is masked where it is read, unless its copy dyv is masked already.
    local main = { count = lanes, loads = {}, dys = {}, terms = {}, sets = {} }
    local tail = { count = g.tail, loads = {}, dys = {}, terms = {}, sets = {} }
    for kbo = 0, c.kb - 1 do
      for r = 0, g.step - 1 do
        local e = string.format("e_k%d_r%d", kbo, r)
        local ysrc = not c.dyv and "y" .. kbo or nil
        main.dys[#main.dys + 1] = { name = e, src = "d" .. kbo, ysrc = ysrc,
          index = plan.linear({ { "j", 1 }, { "l", 1 } }, r * dpitch) }
        tail.dys[#tail.dys + 1] = { name = e, src = "d" .. kbo, ysrc = ysrc,
          index = plan.linear({ { "l", 1 } }, jmain + r * dpitch) }
        for _, t in ipairs(bt) do
          local acc = string.format("a_k%d_r%d_t%d", kbo, r, t.slot)
          main.terms[#main.terms + 1] = { acc = acc, e = e,
            x = "xr[" .. plan.linear({ { "j", b.src_j }, { "l", b.src_j } }, r * b.src_i + t.off) .. "]" }
          tail.terms[#tail.terms + 1] = { acc = acc, e = e,
            x = "xr[" .. plan.linear({ { "l", b.src_j } }, jmain * b.src_j + r * b.src_i + t.off) .. "]" }
        end
      end
    end
    g.main_lane, g.tail_lane = main, tail
    macs = macs + ((g.i1 - g.i0) // g.step) * (c.dyv and L.ow or b.j1 - b.j0) * g.step * #bt
      * (c.tloop and c.ntaps // c.tg or 1)
    roll_rows(S, c, b, bt, g, dpitch)
    grp.blocks[#grp.blocks + 1] = g
  end
  return macs
end

-- Step 5, the tap group starting at tap t0 (row-major order): its taps, the row
-- groups of every block, its accumulators and lane sums; and its multiply-adds.
local function tap_group(L, S, c, blocks, t0)
  local cg = L.c // L.g
  local kb, ntaps, tloop = c.kb, c.ntaps, c.tloop
  local grp = { taps = {}, blocks = {}, n = math.min(c.tg, ntaps - t0) }
  -- Rows of 'part' the group's lane sums take: KC channels of its taps.
  grp.part_rows = c.kc * grp.n
  local index, macs = {}, 0
  for t = t0, t0 + grp.n - 1 do
    local m, q = t // L.k2, t % L.k2
    if tloop then m, q = (t - t0) // tloop.tq, (t - t0) % tloop.tq end
    index[m * L.k2 + q] = t - t0
    grp.taps[#grp.taps + 1] = { m = m, q = q, slot = t - t0,
      dw = plan.linear({ { "k", cg * ntaps }, { "kb", cg * ntaps },
                         { L.g == 1 and "c" or ("c % " .. cg), ntaps },
                         { "tm", tloop and L.k2 or 0 }, { "tq", tloop and 1 or 0 } }, m * L.k2 + q),
      part = plan.linear({ { "kb", grp.n } }, t - t0),
      -- Where the tap's sum lands in sgd_update's tile of whole dW rows.
      tile = plan.linear({ { "kb", ntaps } }, t) }
  end
  for _, b in ipairs(blocks) do
    local bt = {}
    for _, t in ipairs(b.taps) do
      local idx = t.m * L.k2 + t.q
      if index[idx] then bt[#bt + 1] = { slot = index[idx], off = t.off } end
    end
    if #bt > 0 then macs = macs + block_groups(L, S, c, b, bt, grp) end
  end
  grp.has_i = #grp.blocks > 0
  grp.has_j = false
  for _, g in ipairs(grp.blocks) do
    if g.jmain > g.j0 then grp.has_j = true end
  end
  grp.accs = {}
  for kbo = 0, kb - 1 do
    for r = 0, c.rb - 1 do
      for _, t in ipairs(grp.taps) do
        grp.accs[#grp.accs + 1] = { name = string.format("a_k%d_r%d_t%d", kbo, r, t.slot),
          first = r == 0, part = plan.linear({ { "kb", grp.n } }, kbo * grp.n + t.slot),
          kbo = kbo, slot = t.slot }
      end
    end
  end
  grp.sums = {}
  for kbo = 0, kb - 1 do
    for _, t in ipairs(grp.taps) do
      local names = {}
      for r = 0, c.rb - 1 do names[#names + 1] = string.format("a_k%d_r%d_t%d[l]", kbo, r, t.slot) end
      grp.sums[#grp.sums + 1] = { part = plan.linear({ { "kb", grp.n } }, kbo * grp.n + t.slot),
        value = table.concat(names, " + ") }
    end
  end
  return grp, macs
end

-- Step 6, the copy loops: where each dY plane is read (P.DY), the copy of I
-- (P.VIEW) and the parts of the copies no copy loop writes, zeroed once per call.
local function copy_loops(L, c, P)
  local kb, pitch, plane = c.kb, c.pitch, c.plane
  P.DY = {}
  for kbo = 0, kb - 1 do
    -- d.yname and d.yptr: the same plane of Y, whose signs mask dY under a fused ReLU.
    local plane = string.format("(%s) * %d", plan.linear({ { "n", L.k }, { "k", 1 }, { "kb", 1 } }, kbo), L.oh * L.ow)
    local d = { name = "d" .. kbo, ptr = "grad_output + " .. plane, yname = "y" .. kbo, yptr = "output + " .. plane }
    if c.dyv then
      d.ptr = kbo == 0 and "dyv" or string.format("dyv + %d", kbo * L.oh * pitch)
      d.dst = plan.linear({ { "i", pitch }, { "j", 1 } }, kbo * L.oh * pitch)
      d.src = plan.linear({ { "n", L.k * L.oh * L.ow }, { "k", L.oh * L.ow }, { "kb", L.oh * L.ow },
                            { "i", L.ow }, { "j", 1 } }, kbo * L.oh * L.ow)
    end
    P.DY[#P.DY + 1] = d
  end
  P.ZEROS = {}
  local function zero(i0, i1, u0, u1, base)
    if i1 > i0 and u1 > u0 then
      P.ZEROS[#P.ZEROS + 1] = { i0 = i0, i1 = i1, u0 = u0, u1 = u1, array = base.array,
        dst = plan.linear({ { "i", pitch }, { "u", 1 } }, base.off) }
    end
  end
  if c.dyv then
    P.DYV = { size = kb * L.oh * pitch }
    for kbo = 0, kb - 1 do
      zero(0, L.oh, L.ow, pitch, { array = "dyv", off = kbo * L.oh * pitch })
    end
  end
  if c.view then
    P.VIEW = { size = L.sw * plane, copies = {} }
    for p = 0, L.sw - 1 do
      local u0 = -((p - L.pw) // L.sw)          -- ceil((PW - p) / SW)
      local u1 = (L.w - 1 + L.pw - p) // L.sw + 1
      local base = { array = "xv", off = p * plane }
      if u1 > u0 then
        P.VIEW.copies[#P.VIEW.copies + 1] = { u0 = u0, u1 = u1,
          dst = plan.linear({ { "i", pitch }, { "u", 1 } }, p * plane + L.ph * pitch),
          src = plan.linear({ { "i", L.w }, { "u", L.sw } }, p - L.pw) }
        zero(0, L.ph, 0, pitch, base)
        zero(L.ph, L.ph + L.h, 0, u0, base)
        zero(L.ph, L.ph + L.h, u1, pitch, base)
        zero(L.ph + L.h, plane // pitch, 0, pitch, base)
      else
        zero(0, plane // pitch, 0, pitch, base)
      end
    end
  end
  P.SRC = c.view and "xv" or "xn"
end

-- Return the grad_weight plan of layer L under schedule S.
function grad_weight.plan(L, S)
  local cg, kg = L.c // L.g, L.k // L.g
  local vh, vw = L.h + L.ph + L.eh, L.w + L.pw + L.ew
  local c = { kb = kg % S.gw_channels == 0 and S.gw_channels or 1, ntaps = L.k1 * L.k2, vh = vh,
              pitch = plan.row_pitch((vw + L.sw - 1) // L.sw, S.row_align) }
  tap_groups(L, S, c)
  copies(L, S, c)
  local blocks = source_blocks(L, c)
  local P = { KB = c.kb, TG = c.tg, RB = c.rb, KC = c.kc, LANES = S.lanes, TGROUPS = {} }
  local macs = 0
  for t0 = 0, c.tloop and 0 or c.ntaps - 1, c.tg do
    local grp, m = tap_group(L, S, c, blocks, t0)
    P.TGROUPS[#P.TGROUPS + 1] = grp
    macs = macs + m
  end
  P.MACS = macs
  -- The plan's count is of one (output channel, input channel, sample).
  P.CALL_MACS = L.k * cg * L.n * macs
  P.TLOOP = c.tloop
  -- The first element of weight row (k + kb, c): its K1*K2 taps follow.
  P.W_ROW = plan.linear({ { "k", cg * c.ntaps }, { "kb", cg * c.ntaps },
                          { L.g == 1 and "c" or ("c % " .. cg), c.ntaps } }, 0)
  P.PART_ROWS = c.kc * c.tg
  -- sgd_update's tile of whole dW rows, KC channels of K1*K2 taps: tap t of row kb.
  P.DWT = { size = c.kc * c.ntaps, element = string.format("dwt[kb * %d + t]", c.ntaps) }
  copy_loops(L, c, P)
  return P
end

return grad_weight
