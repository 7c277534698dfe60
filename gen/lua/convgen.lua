-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.

local plan = require "plan"
local template = require "template"

local convgen = {}

-- Largest zero-padded copy of one plane kept on the stack (each function stays
-- well under 64 KiB of stack); larger planes use border blocks instead.
local VIEW_BYTES = 32768
-- Largest set of grad_weight's per-tap partial-sum rows (more taps, shorter chunks).
local P_BYTES = 24576
-- Largest stack arrays of grad_weight together (padded copies of I and dY, lane sums).
local STACK_BYTES = 61440
-- Bytes of source rows one column strip of a rolling group (see roll_group) spans:
-- all rows if they fit, else 8 to 32 rows, so that what a strip touches is still in
-- L1 for the next strip (measured, 3x3 forward: 256 columns best at 32 rows, 1024
-- columns at 8, dw 56x56 10% slower in two strips than in one).
local ROLL_BYTES = 32768

-- Return the row pitch of a padded copy 'cols' wide: a multiple of 64 bytes, so
-- every row starts as aligned as the first.  Workaround for a gcc 12.2 bug, not for
-- undefined behaviour (the indices are in bounds; ASan/UBSan are clean): with a
-- 66-float pitch, -O3 -march=native (AVX-512) vectorizes the j loop with 64-byte
-- vectors and its epilogue with 32-byte vectors (vect-epilogues-nomask); the
-- epilogue's analysis decides to "force alignment" of the stack copy xv to 32 bytes
-- and emits vmovaps for a tap at misalignment 0, but xv keeps its 16-byte alignment
-- in the frame, so the load faults.  --param vect-epilogues-nomask=0 or
-- -mprefer-vector-width=256 also avoid it; clang and gcc -O2 are not affected.
local function row_pitch(cols, size)
  local per = 64 // size
  return (cols + per - 1) // per * per
end

local OP_ORDER = { "forward", "grad_weight", "grad_input", "grad_bias" }

-- Return a 32-bit FNV-1a hash of 'text' as a C literal: the layer's identity,
-- stamped into NAME.h and checked by NAME.c, so that a header and a source
-- from two different runs cannot build together.
local function layer_id(text)
  local h = 2166136261
  for k = 1, #text do
    h = ((h ~ text:byte(k)) * 16777619) & 0xffffffff
  end
  return string.format("0x%08xu", h)
end

-- Return the canonical command that regenerates the files: every option, in
-- one order, with '-o .' (the file's own directory).
local function command(L)
  return string.format(
    "convgen generate --input %dx%d --kernel %dx%d --batch %d --in-channels %d"
      .. " --out-channels %d --groups %d --stride %dx%d --padding %dx%d --dilation %dx%d"
      .. " --dtype %s --ops %s --name %s -o .",
    L.h, L.w, L.k1, L.k2, L.n, L.c, L.k, L.g, L.sh, L.sw, L.ph, L.pw, L.dh, L.dw,
    L.dtype, table.concat(L.ops, ","), L.name)
end

-- Return the C expression of the input channel that output channel k's
-- tap c reads in sample n: n*C + (k / (K/G))*(C/G) + c.
local function in_channel_expr(L)
  local cg, kg = L.c // L.g, L.k // L.g
  if L.g == 1 then return plan.linear({ { "n", L.c }, { "c", 1 } }, 0) end
  local group = kg == 1 and "k" or ("k / " .. kg)
  return plan.linear({ { "n", L.c }, { group, cg }, { "c", 1 } }, 0)
end


-- Return the largest of 4, 2, 1 that divides 'n': how many output planes one
-- pass of a gather computes, so that each source element loaded feeds several.
local function channel_block(n)
  for _, b in ipairs({ 4, 2, 1 }) do
    if n % b == 0 then return b end
  end
end

-- Return the row loops of block 'b': { first, end, rows per iteration }, with
-- 'rows' rows per iteration where at least two iterations fit, then one row
-- per iteration for the rest, so small planes stay small code.
local function row_parts(b, rows)
  local n_rows = b.i1 - b.i0
  if n_rows < 2 * rows then rows = 1 end
  local main = b.i0 + (n_rows // rows) * rows
  local parts = { { b.i0, main, rows } }
  if main < b.i1 then parts[2] = { main, b.i1, 1 } end
  return parts
end

-- Return block 'b' as one rolling group, or nil: with unit row step and a full
-- rectangle of taps, one output row per iteration inside a column loop, the source
-- vectors of the rows before the last carried in lane arrays (one register each) from
-- row to row, so each source vector is loaded once, not once per tap (gcc 12 folds
-- every load into its multiply-add, and most of those loads straddle cache lines).
local function roll_group(b, o)
  if not o.overlap or o.nb ~= 1 or #b.taps == 0 or #b.taps > o.split_taps
    or b.src_i ~= b.src_w or b.j1 - b.j0 < o.lanes or b.i1 - b.i0 < 2 then
    return nil
  end
  local rows, cols, rlist, clist = {}, {}, {}, {}
  for _, t in ipairs(b.taps) do
    if not rows[t.roff] then rows[t.roff] = true; rlist[#rlist + 1] = t.roff end
    if not cols[t.coff] then cols[t.coff] = true; clist[#clist + 1] = t.coff end
  end
  table.sort(rlist)
  table.sort(clist)
  if rlist[#rlist] - rlist[1] ~= #rlist - 1 or #rlist * #clist ~= #b.taps then return nil end
  -- Carried and fresh source vectors plus the weights: 26 of the 32 vector registers.
  if #rlist < 2 or #rlist * #clist + #b.taps > 26 then return nil end
  local rmin, rmax = rlist[1], rlist[#rlist]
  local g = { roll = true, i0 = b.i0, i1 = b.i1, step = 1, j0 = b.j0, j1 = b.j1,
              jmain = b.j1, empty = false, carried = {}, loads = {}, rotate = {},
              rb = b.i1 - b.i0,
              lane_terms = {}, terms = {}, accs = {}, lane_stores = {} }
  local tail = b.j1 - b.j0 - (b.j1 - b.j0) // o.lanes * o.lanes
  if tail > 0 then g.jlast = b.j1 - o.lanes end
  local fit = ROLL_BYTES // (b.src_w * (64 // o.lanes))
  if fit < g.rb + #rlist then g.rb = math.max(8, math.min(32, fit)) end
  g.ie = g.rb >= b.i1 - b.i0 and tostring(b.i1)
    or string.format("ib + %d < %d ? ib + %d : %d", g.rb, b.i1, g.rb, b.i1)
  local function cname(k, ci) return string.format("c_r%d_q%d", k, ci) end
  for ci, c in ipairs(clist) do
    local f = string.format("f_q%d", ci - 1)
    g.loads[#g.loads + 1] = { name = f, src = o.src,
      index = plan.linear({ { "i", b.src_i }, { "j", b.src_j }, { "l", b.src_j } }, rmax * b.src_w + c) }
    for k = 0, #rlist - 2 do
      g.carried[#g.carried + 1] = { name = cname(k, ci - 1), src = o.src,
        index = plan.linear({ { "ib", b.src_i }, { "j", b.src_j }, { "l", b.src_j } }, (rmin + k) * b.src_w + c) }
      g.rotate[#g.rotate + 1] = { dst = cname(k, ci - 1),
        value = k == #rlist - 2 and f or (cname(k + 1, ci - 1) .. "[l]") }
    end
  end
  local acc = string.format("%s0_%s0_s0", o.acc[1], o.acc[2])
  local out = string.format("%s0[%s]", o.ptr,
    plan.linear({ { "i", b.out_i }, { "j", b.out_j }, { "l", b.out_j } }, b.out_off))
  g.accs[1] = { name = acc, init_first = o.init(0), lane_init_next = out }
  local col = {}
  for ci, c in ipairs(clist) do col[c] = ci - 1 end
  for _, t in ipairs(b.taps) do
    local x = t.roff == rmax and string.format("f_q%d", col[t.coff])
      or cname(t.roff - rmin, col[t.coff]) .. "[l]"
    g.lane_terms[#g.lane_terms + 1] = { acc = acc, src = x, w = o.w(0, t.m, t.q) }
  end
  g.lane_stores[1] = { dst = out, value = acc }
  return g, (b.i1 - b.i0) * (b.j1 - b.j0) * #b.taps
end

-- Return the row groups of gather blocks for the templates, and the multiply-adds
-- of one pass over one source plane.  'o' names things: o.acc (accumulator
-- letters), o.ptr (output plane pointer prefix), o.src (source pointer),
-- o.w(b, m, q) (weight scalar name), o.init(b) (first pass initial value),
-- o.nb (output planes per pass), o.rows (rows per iteration), o.split
-- (partial sums per accumulator, so long kernels are not one FMA chain).
local function gather_groups(blocks, o)
  local groups, macs = {}, 0
  for _, b in ipairs(blocks) do
    local rolled, rmacs = nil, 0
    if o.roll then rolled, rmacs = roll_group(b, o) end
    local parts = rolled and {} or row_parts(b, #b.taps == 0 and 1 or o.rows)
    if rolled then
      groups[#groups + 1] = rolled
      macs = macs + rmacs
    end
    for _, part in ipairs(parts) do
      local i0, i1, step = part[1], part[2], part[3]
      local split = math.max(1, math.min(o.split, #b.taps))
      local g = { i0 = i0, i1 = i1, step = step, j0 = b.j0, j1 = b.j1,
                  jmain = b.j0 + (b.j1 - b.j0) // o.lanes * o.lanes,
                  empty = #b.taps == 0, accs = {}, terms = {}, stores = {},
                  lane_terms = {}, lane_stores = {} }
      local name = {}
      for kb = 0, o.nb - 1 do
        name[kb] = {}
        for r = 0, step - 1 do
          name[kb][r] = {}
          local out = string.format("%s%d[%s]", o.ptr, kb,
            plan.linear({ { "i", b.out_i }, { "j", b.out_j } }, r * b.out_i + b.out_off))
          local sum = {}
          for s = 0, split - 1 do
            local acc = string.format("%s%d_%s%d_s%d", o.acc[1], kb, o.acc[2], r, s)
            name[kb][r][s] = acc
            sum[#sum + 1] = acc
            g.accs[#g.accs + 1] = { name = acc,
              init_first = s == 0 and o.init(kb) or "0",
              init_next = s == 0 and out or "0" }
          end
          g.stores[#g.stores + 1] = { dst = out, value = table.concat(sum, " + ") }
          local lane_out = string.format("%s%d[%s]", o.ptr, kb,
            plan.linear({ { "i", b.out_i }, { "j", b.out_j }, { "l", b.out_j } }, r * b.out_i + b.out_off))
          g.lane_stores[#g.lane_stores + 1] = { dst = lane_out, value = table.concat(sum, " + ") }
          for s = 0, split - 1 do
            g.accs[#g.accs - split + 1 + s].lane_init_next = s == 0 and lane_out or "0"
          end
        end
      end
      for ti, t in ipairs(b.taps) do
        local s = (ti - 1) % split
        for kb = 0, o.nb - 1 do
          for r = 0, step - 1 do
            g.terms[#g.terms + 1] = {
              acc = name[kb][r][s], src = o.src, w = o.w(kb, t.m, t.q),
              index = plan.linear({ { "i", b.src_i }, { "j", b.src_j } }, r * b.src_i + t.off),
            }
            g.lane_terms[#g.lane_terms + 1] = {
              acc = name[kb][r][s], src = o.src, w = o.w(kb, t.m, t.q),
              index = plan.linear({ { "i", b.src_i }, { "j", b.src_j }, { "l", b.src_j } },
                                  r * b.src_i + t.off),
            }
          end
        end
      end
      -- With many distinct source offsets, gcc 12 keeps one pointer per offset in the
      -- vectorized j loop and spills them; an outer loop of LANES columns around a
      -- fixed-count lane loop keeps one base (measured: 1-channel 3x3 85 -> 123 GFLOP/s).
      -- With few offsets the plain j loop is as fast or faster (multi-channel grad_input).
      local offsets, n_off = {}, 0
      for _, t in ipairs(g.terms) do
        if not offsets[t.index] then offsets[t.index], n_off = true, n_off + 1 end
      end
      if n_off <= 16 then g.jmain = g.j0 end
      -- Without a second pass (each output written once, from the bias or zero), a row
      -- whose width is not whole vectors ends with one more vector step moved back to
      -- end at j1: it recomputes a few outputs to the same value instead of a scalar tail.
      -- A tail of a power of two columns is one short vector step already (dw 56 columns:
      -- 8-column tail, overlap measured 10% slower), so it stays.
      local tail = g.j1 - g.jmain
      if o.overlap and g.jmain > g.j0 and tail > 0 and tail & (tail - 1) ~= 0 then
        g.jlast, g.jmain = g.j1 - o.lanes, g.j1
      end
      macs = macs + ((i1 - i0) // step) * (b.j1 - b.j0) * #g.terms
      groups[#groups + 1] = g
    end
  end
  return groups, macs
end

-- Return the weights a list of blocks reads, as { m, q } in row-major order.
local function taps_of(blocks, k2)
  local used, list = {}, {}
  for _, b in ipairs(blocks) do
    for _, t in ipairs(b.taps) do used[t.m * k2 + t.q] = t end
  end
  local keys = {}
  for key in pairs(used) do keys[#keys + 1] = key end
  table.sort(keys)
  for _, key in ipairs(keys) do list[#list + 1] = { m = used[key].m, q = used[key].q } end
  return list
end

-- Return the most output rows, at least 2 and at most 'count', of a band whose
-- 'srows(rows)' source rows of 'row_bytes' each fit a stack copy; nil if 2 do not.
local function band_rows(count, row_bytes, srows)
  local rb
  for r = 2, count do
    if srows(r) * row_bytes > VIEW_BYTES then break end
    rb = r
  end
  return rb
end

-- Return the bands of 'count' output rows, 'rb' rows each (the whole bands, then one
-- for the rest: { i0, i1, rows, srows, groups }), their taps and multiply-adds per
-- pass; 'gather(rows, srows)' returns the taps, row groups and multiply-adds of a band.
local function bands_of(count, rb, srows, gather)
  local whole = count // rb * rb
  local bands = { { i0 = 0, i1 = whole, rows = rb } }
  if whole < count then bands[2] = { i0 = whole, i1 = count, rows = count - whole } end
  local taps, all = nil, 0
  for _, band in ipairs(bands) do
    local macs
    band.srows = srows(band.rows)
    taps, band.groups, macs = gather(band.rows, band.srows)
    all = all + (band.i1 - band.i0) // band.rows * macs
  end
  return bands, taps, all
end

-- Return the forward plan: Y gathered from I, 'nb' output channels per pass.
-- Sources: the input plane itself, with border blocks; or a zero-padded copy of
-- the whole plane (VIEW); or, when the plane is too large for that and has
-- column padding, zero-padded copies of bands of rows (BANDS): column borders cut
-- every row into scalar pieces, row borders only cut off whole rows.
local function forward_plan(L, V)
  local size = L.dtype == "float" and 4 or 8
  local vh, vw = L.h + 2 * L.ph, L.w + 2 * L.pw
  local pitch = row_pitch(vw, size)
  local view = (L.ph > 0 or L.pw > 0) and vh * pitch * size <= VIEW_BYTES
  local function srows(rb) return (rb - 1) * L.sh + (L.k1 - 1) * L.dh + 1 end
  local rb = not view and L.pw > 0 and band_rows(L.oh, pitch * size, srows)
  local nb = channel_block(V.KG)
  local P = { NB = nb, WEIGHTS = {}, PLANES = {}, MACS = 0 }
  local function groups_of(blocks, ptr)
    local taps = taps_of(blocks, L.k2)
    local split = (#taps + 15) // 16
    return taps, gather_groups(blocks, {
      acc = { "y_k", "i" }, ptr = ptr, src = (view or rb) and "xv" or "x", nb = nb, split = split,
      rows = math.max(1, 8 // (nb * split)), lanes = 64 // size, overlap = V.CG == 1,
      roll = true, split_taps = 16,
      init = function(kb) return "b" .. kb end,
      w = function(kb, m, q) return string.format("w_k%d_m%d_q%d", kb, m, q) end,
    })
  end
  local cols = plan.forward_axis(L.ow, vw, L.k2, L.sw, 0, L.dw)
  local taps
  if rb then
    P.BANDS, taps, P.MACS = bands_of(L.oh, rb, srows, function(rows, n)
      local plan_rows = plan.forward_axis(rows, n, L.k1, L.sh, 0, L.dh)
      return groups_of(plan.gather_blocks(plan_rows, cols, L.ow, pitch), "yb")
    end)
    P.BAND_COPY = { rows = L.h, cols = L.w,
      src_row = plan.linear({ { "band_i", L.sh }, { "r", 1 } }, -L.ph),
      dst = plan.linear({ { "r", pitch }, { "col", 1 } }, L.pw),
      src = plan.linear({ { "s", L.w }, { "col", 1 } }, 0),
      zero = 0 }  -- the first column is padding: no copy writes it
    P.BUFFER = srows(rb) * pitch
  elseif view then
    -- A zero-padded copy of each input plane: one block, no border cases.
    local rows = plan.forward_axis(L.oh, vh, L.k1, L.sh, 0, L.dh)
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, L.ow, pitch), "y")
    P.BUFFER = vh * pitch
  else
    local rows = plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh)
    cols = plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw)
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, L.ow, L.w), "y")
  end
  P.TAPS, P.HAS_TAPS = taps, #taps > 0
  for kb = 0, nb - 1 do
    P.PLANES[#P.PLANES + 1] = { ptr = "y" .. kb, band_ptr = "yb" .. kb, bias = "b" .. kb,
      plane = plan.linear({ { "n", L.k }, { "k", 1 } }, kb), k = plan.linear({ { "k", 1 } }, kb) }
    for _, t in ipairs(taps) do
      P.WEIGHTS[#P.WEIGHTS + 1] = { name = string.format("w_k%d_m%d_q%d", kb, t.m, t.q),
        index = kb * V.CG * V.K1K2 + t.m * L.k2 + t.q }
    end
  end
  P.SECOND_PASS = V.CG > 1 and P.HAS_TAPS
  if view then
    P.VIEW = { rows = L.h, cols = L.w,
      dst = plan.linear({ { "i", pitch }, { "j", 1 } }, L.ph * pitch + L.pw),
      src = plan.linear({ { "i", L.w }, { "j", 1 } }, 0) }
  end
  return P
end

-- Return the grad_input plan: dI gathered from dY phase by phase, 'nb' input
-- channels per pass.
local function grad_input_plan(L, V)
  local size = L.dtype == "float" and 4 or 8
  local top, bottom = plan.view_pads(L.h, L.oh, L.k1, L.sh, L.ph, L.dh)
  local left, right = plan.view_pads(L.w, L.ow, L.k2, L.sw, L.pw, L.dw)
  local vh, vw = L.oh + top + bottom, L.ow + left + right
  local pitch = row_pitch(vw, size)
  local view = top + bottom + left + right > 0 and vh * pitch * size <= VIEW_BYTES
  -- Bands of rows (see forward_plan) for unit row stride: every band then has one phase.
  local function srows(rb) return rb + (L.k1 - 1) * L.dh end
  -- Only with column padding: without it (left and right from the window alone) gcc 12
  -- spilled the carried vectors of the band (256x256 3x3: 47% of peak with border
  -- blocks, 42% with bands; padding 1: 35% and 56%).
  local rb = not view and L.sh == 1 and L.pw > 0 and band_rows(L.h, pitch * size, srows)
  local nb = channel_block(V.CG)
  local P = { NB = nb, WEIGHTS = {}, PLANES = {}, MACS = 0 }
  -- Return the taps, row groups and multiply-adds of gathering 'blocks'.
  local function groups_of(blocks, ptr)
    local taps = taps_of(blocks, L.k2)
    local split = (#taps + 15) // 16
    local o = {
      acc = { "dx_c", "y" }, ptr = ptr, src = (view or rb) and "dyv" or "dy", nb = nb, split = split,
      rows = math.max(1, 8 // (nb * split)), lanes = 64 // size, overlap = V.KG == 1,
      roll = true, split_taps = 16,
      init = function() return "0" end,
      w = function(cb, m, q) return string.format("w_c%d_m%d_q%d", cb, m, q) end,
    }
    -- With a stride, the phases of a padded copy usually cover the same (i, j) range:
    -- one loop then computes every phase, so the strided stores of the phases meet
    -- in contiguous memory (and each dY element loaded feeds more taps).
    local same = (view or rb) and #blocks > 1 and #blocks <= 4
    for _, b in ipairs(blocks) do
      if b.i0 ~= blocks[1].i0 or b.i1 ~= blocks[1].i1 or b.j0 ~= blocks[1].j0 or b.j1 ~= blocks[1].j1
        or #b.taps == 0 then
        same = false
      end
    end
    if not same then return taps, gather_groups(blocks, o) end
    o.roll = false
    local merged, all = nil, 0
    o.rows = math.max(1, 8 // (nb * split * #blocks))
    for bi, b in ipairs(blocks) do
      o.acc = { "dx_c", string.format("p%d_y", bi - 1) }
      local groups, macs = gather_groups({ b }, o)
      all = all + macs
      if not merged then
        merged = groups
      else
        assert(#groups == #merged, "phases split into the same row loops")
        for gi, g in ipairs(groups) do
          local m = merged[gi]
          assert(m.i0 == g.i0 and m.i1 == g.i1 and m.step == g.step, "phases share their row loops")
          for _, key in ipairs({ "accs", "terms", "stores", "lane_terms", "lane_stores" }) do
            for _, x in ipairs(g[key]) do m[key][#m[key] + 1] = x end
          end
        end
      end
    end
    return taps, merged, all
  end
  local taps
  if rb then
    local cols = plan.grad_input_axis(L.w, vw, L.k2, L.sw, L.pw + L.sw * left, L.dw)
    P.BANDS, taps, P.MACS = bands_of(L.h, rb, srows, function(rows, n)
      local plan_rows = plan.grad_input_axis(rows, n, L.k1, 1, (L.k1 - 1) * L.dh, L.dh)
      return groups_of(plan.gather_blocks(plan_rows, cols, L.w, pitch), "dxb")
    end)
    P.BAND_COPY = { rows = L.oh, cols = L.ow,
      src_row = plan.linear({ { "band_i", 1 }, { "r", 1 } }, L.ph - (L.k1 - 1) * L.dh),
      dst = plan.linear({ { "r", pitch }, { "col", 1 } }, left),
      src = plan.linear({ { "s", L.ow }, { "col", 1 } }, 0),
      -- An element no copy writes: the first column, or the last of the pitch.
      zero = left > 0 and 0 or pitch - 1 }
    P.BUFFER = srows(rb) * pitch
  elseif view then
    -- A zero-padded copy of each dY plane: one block per phase, no border cases.
    local rows = plan.grad_input_axis(L.h, vh, L.k1, L.sh, L.ph + L.sh * top, L.dh)
    local cols = plan.grad_input_axis(L.w, vw, L.k2, L.sw, L.pw + L.sw * left, L.dw)
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, L.w, pitch), "dx")
    P.BUFFER = vh * pitch
  else
    local rows = plan.grad_input_axis(L.h, L.oh, L.k1, L.sh, L.ph, L.dh)
    local cols = plan.grad_input_axis(L.w, L.ow, L.k2, L.sw, L.pw, L.dw)
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, L.w, L.ow), "dx")
  end
  P.TAPS, P.HAS_TAPS = taps, #taps > 0
  for cb = 0, nb - 1 do
    P.PLANES[#P.PLANES + 1] = { ptr = "dx" .. cb, band_ptr = "dxb" .. cb,
      plane = plan.linear({ { "n", L.c }, { "c", 1 } }, cb) }
    for _, t in ipairs(taps) do
      P.WEIGHTS[#P.WEIGHTS + 1] = { name = string.format("w_c%d_m%d_q%d", cb, t.m, t.q),
        index = cb * V.K1K2 + t.m * L.k2 + t.q }
    end
  end
  P.FIRST_K = L.g == 1 and "0" or string.format("c / %d * %d", V.CG, V.KG)
  P.LAST_K = L.g == 1 and tostring(V.KG) or string.format("c / %d * %d + %d", V.CG, V.KG, V.KG)
  P.C_IN_GROUP = L.g == 1 and "c" or string.format("c %% %d", V.CG)
  P.DY_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0)
  P.W_PLANE = plan.linear({ { "k", V.CG }, { P.C_IN_GROUP, 1 } }, 0)
  P.SECOND_PASS = V.KG > 1 and P.HAS_TAPS
  if view then
    P.VIEW = { rows = L.oh, cols = L.ow,
      dst = plan.linear({ { "i", pitch }, { "j", 1 } }, top * pitch + left),
      src = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0) }
  end
  return P
end

-- Return the divisor of 'n' that is a multiple of 'step', at most 'most' (at least 'step').
local function chunk_of(n, step, most)
  local best = step
  for d = step, n, step do
    if n % d == 0 and d <= most then best = d end
  end
  return best
end

-- Return the grad_weight plan.  Each dW element is a sum over n, i, j; the sums run
-- in lane arrays a_...[LANES] (one vector register each: gcc and clang keep a local
-- array that a fixed-count loop updates in a register), KB output channels and up to
-- TG taps at a time, RB output rows per iteration, reduced across lanes at the end.
-- Lane sums of KC output channels are kept in 'part' across the batch loop, so the
-- (zero-padded, column-phase-split) copy of an input plane is made once per sample.
local function grad_weight_plan(L, V)
  local size = L.dtype == "float" and 4 or 8
  local lanes = 64 // size
  local vh, vw = L.h + 2 * L.ph, L.w + 2 * L.pw
  local pcols = (vw + L.sw - 1) // L.sw
  local pitch = row_pitch(pcols, size)
  local kb = V.KG % 2 == 0 and 2 or 1
  local ntaps = L.k1 * L.k2
  local tg
  if ntaps * kb <= 20 then
    tg = ntaps
  elseif kb * L.k2 <= 18 then
    tg = (18 // (kb * L.k2)) * L.k2
  else
    tg = math.max(1, 18 // kb)
  end
  -- A large window loops at run time over rectangles of TM x TQ taps (TM divides K1,
  -- TQ divides K2) instead of printing every tap group: code grows with the group, not
  -- with K1*K2.  Only with a padded copy (every tap valid) and unit column stride.
  local tloop
  if ntaps > 144 and L.sw == 1 then
    local best = { tm = 1, tq = 1 }
    for tm = 1, L.k1 do
      for tq = 1, L.k2 do
        if L.k1 % tm == 0 and L.k2 % tq == 0 and tm * tq * kb <= 18
          and (tm * tq > best.tm * best.tq or (tm * tq == best.tm * best.tq and tq > best.tq)) then
          best = { tm = tm, tq = tq }
        end
      end
    end
    tloop = best
    tg = best.tm * best.tq
  end
  local rb = kb * math.min(tg, ntaps) <= 10 and 2 or 1
  -- Rolling rows (see roll_group): one dY row per iteration inside a column strip, the
  -- I vectors of the window's upper rows carried in registers from row to row.
  -- KB output channels share each carried I vector: KB*taps sums, taps I vectors and KB dY
  -- values must fit the 32 vector registers (KB 2: 3x3 windows).
  local roll = not tloop and tg == ntaps and L.sh == 1 and L.dh == 1 and L.sw == 1 and L.k1 > 1
    and (kb == 1 and 2 * ntaps + 1 <= 26 or kb > 1 and (kb + 1) * ntaps + kb <= 29)
  local kc = chunk_of(V.KG, kb, math.max(kb, P_BYTES // (tg * lanes * size)))
  -- Rows of OW columns that are not a multiple of LANES would end in a partial-vector
  -- loop; with stride 1 down the rows, copy dY into rows of 'pitch' columns whose last
  -- ones are zero, so every row is whole vectors: the extra products are 0 * I.  The
  -- padded copy of I then gets one more (zero) row, read by the last row's extra columns.
  local jcols = (L.ow + lanes - 1) // lanes * lanes
  local dyv = L.sh == 1 and L.ow % lanes ~= 0 and L.sw * (vh + 1) * pitch * size <= VIEW_BYTES
    and (L.sw * (vh + 1) * pitch + kb * L.oh * pitch + kc * tg * lanes) * size <= STACK_BYTES
  local plane = (vh + (dyv and 1 or 0)) * pitch
  local view = (dyv or L.ph > 0 or L.pw > 0 or L.sw > 1) and L.sw * plane * size <= VIEW_BYTES
  if not view then tloop = nil end
  -- Rolling measured 1.5-1.9x faster without a padded copy (100x100 to 1024x1024, also
  -- with padding), but 0.65-1.3x with one (28x28 to 64x64: gcc 12 keeps the lane sums
  -- in memory there), so only without, except for KB > 1 (multi-channel 3x3): read
  -- through a restrict pointer, gcc keeps the 18 sums in registers (N8 16->32 32x32
  -- 138 -> 211-225 GFLOP/s).
  roll = roll and (not view or kb > 1)
  if roll then rb = 1 end
  local blocks
  if view then
    -- Padded column X = SW*u + p is column u of phase plane p: tap q reads phase
    -- (q*DW) % SW at column j + (q*DW) // SW, contiguous in j for any stride.
    local taps = {}
    for m = 0, L.k1 - 1 do
      for q = 0, L.k2 - 1 do
        local x = q * L.dw
        taps[#taps + 1] = { m = m, q = q,
          off = (x % L.sw) * plane + m * L.dh * pitch + x // L.sw, roff = m * L.dh, coff = x }
      end
    end
    blocks = { { i0 = 0, i1 = L.oh, j0 = 0, j1 = dyv and jcols or L.ow, src_i = L.sh * pitch, src_j = 1, taps = taps } }
  else
    local rows = plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh)
    local cols = plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw)
    blocks = plan.gather_blocks(rows, cols, L.ow, L.w)
  end
  local P = { KB = kb, TG = tg, RB = rb, KC = kc, LANES = lanes, TGROUPS = {} }
  -- Tap groups: taps in row-major order, TG at a time.
  local macs = 0
  for t0 = 0, tloop and 0 or ntaps - 1, tg do
    local grp = { taps = {}, blocks = {}, n = math.min(tg, ntaps - t0) }
    local index = {}
    for t = t0, t0 + grp.n - 1 do
      local m, q = t // L.k2, t % L.k2
      if tloop then m, q = (t - t0) // tloop.tq, (t - t0) % tloop.tq end
      index[m * L.k2 + q] = t - t0
      grp.taps[#grp.taps + 1] = { m = m, q = q, slot = t - t0,
        dw = plan.linear({ { "k", V.CG * ntaps }, { "kb", V.CG * ntaps },
                           { L.g == 1 and "c" or ("c % " .. V.CG), ntaps },
                           { "tm", tloop and L.k2 or 0 }, { "tq", tloop and 1 or 0 } }, m * L.k2 + q),
        part = plan.linear({ { "kb", grp.n } }, t - t0) }
    end
    for _, b in ipairs(blocks) do
      local bt = {}
      for _, t in ipairs(b.taps) do
        local idx = t.m * L.k2 + t.q
        if index[idx] then bt[#bt + 1] = { slot = index[idx], off = t.off } end
      end
      if #bt > 0 then
        local n_rows = b.i1 - b.i0
        local step = n_rows >= rb and rb or 1
        local main = b.i0 + (n_rows // step) * step
        local parts = { { b.i0, main, step } }
        if main < b.i1 then parts[#parts + 1] = { main, b.i1, 1 } end
        local jmain = b.j0 + ((b.j1 - b.j0) // lanes) * lanes
        for _, pr in ipairs(parts) do
          local g = { i0 = pr[1], i1 = pr[2], step = pr[3], j0 = b.j0, jmain = jmain,
                      tail = b.j1 - jmain, src_i = b.src_i, row = {}, dys = {}, terms = {} }
          g.xr = plan.linear({ { "i", b.src_i }, { "tm", tloop and L.dh * pitch or 0 },
                               { "tq", tloop and L.dw or 0 } }, 0)
          local dpitch = dyv and pitch or L.ow
          g.dr = plan.linear({ { "i", dpitch } }, 0)
          g.tail_dys, g.tail_terms = {}, {}
          for kbo = 0, kb - 1 do
            for r = 0, g.step - 1 do
              local e = string.format("e_k%d_r%d", kbo, r)
              g.dys[#g.dys + 1] = { name = e, src = "d" .. kbo,
                index = plan.linear({ { "j", 1 }, { "l", 1 } }, r * dpitch) }
              g.tail_dys[#g.tail_dys + 1] = { name = e, src = "d" .. kbo,
                index = plan.linear({ { "l", 1 } }, jmain + r * dpitch) }
              for _, t in ipairs(bt) do
                local acc = string.format("a_k%d_r%d_t%d", kbo, r, t.slot)
                g.terms[#g.terms + 1] = { acc = acc, e = e,
                  index = plan.linear({ { "j", b.src_j }, { "l", b.src_j } }, r * b.src_i + t.off) }
                g.tail_terms[#g.tail_terms + 1] = { acc = acc, e = e,
                  index = plan.linear({ { "l", b.src_j } }, jmain * b.src_j + r * b.src_i + t.off) }
              end
            end
          end
          macs = macs + ((g.i1 - g.i0) // g.step) * (dyv and L.ow or b.j1 - b.j0) * g.step * #bt
            * (tloop and ntaps // tg or 1)
          if roll and #bt == ntaps and g.step == 1 and g.jmain - g.j0 >= lanes and g.i1 - g.i0 >= 2 then
            -- Taps as (source row, column) offsets; the rows of b are b.src_i apart.
            local rlist, clist, seen, col = {}, {}, {}, {}
            for _, t in ipairs(b.taps) do
              if not seen[t.roff] then seen[t.roff] = true; rlist[#rlist + 1] = t.roff end
              if not col[t.coff] then col[t.coff] = true; clist[#clist + 1] = t.coff end
            end
            table.sort(rlist)
            table.sort(clist)
            local rmin, rmax = rlist[1], rlist[#rlist]
            if rmax - rmin == #rlist - 1 and #rlist * #clist == ntaps then
              g.roll, g.carried, g.loads, g.rotate, g.roll_terms = true, {}, {}, {}, {}
              local rw = b.src_i
              local function cname(k, ci) return string.format("c_r%d_q%d", k, ci) end
              for ci, c in ipairs(clist) do
                col[c] = ci - 1
                local f = string.format("f_q%d", ci - 1)
                g.loads[#g.loads + 1] = { name = f,
                  index = plan.linear({ { "i", rw }, { "j", 1 }, { "l", 1 } }, rmax * rw + c) }
                for k = 0, #rlist - 2 do
                  g.carried[#g.carried + 1] = { name = cname(k, ci - 1),
                    index = plan.linear({ { "ib", rw }, { "j", 1 }, { "l", 1 } }, (rmin + k) * rw + c) }
                  g.rotate[#g.rotate + 1] = { dst = cname(k, ci - 1),
                    value = k == #rlist - 2 and f or (cname(k + 1, ci - 1) .. "[l]") }
                end
              end
              g.roll_dy = plan.linear({ { "i", dpitch }, { "j", 1 }, { "l", 1 } }, 0)
              local slot = {}
              for _, t in ipairs(bt) do slot[t.off] = t.slot end
              g.roll_dys = {}
              for kbo = 0, kb - 1 do
                g.roll_dys[#g.roll_dys + 1] = { name = string.format("e_k%d_r0", kbo), src = string.format("d%dp", kbo) }
                for _, t in ipairs(b.taps) do
                  local x = t.roff == rmax and string.format("f_q%d", col[t.coff])
                    or (cname(t.roff - rmin, col[t.coff]) .. "[l]")
                  g.roll_terms[#g.roll_terms + 1] = { acc = string.format("a_k%d_r0_t%d", kbo, slot[t.off]),
                    e = g.roll_dys[#g.roll_dys].name, x = x }
                end
              end
              g.rb = g.i1 - g.i0
              local fit = ROLL_BYTES // (rw * size)
              if fit < g.rb + #rlist then g.rb = math.max(8, math.min(32, fit)) end
              g.ie = g.rb >= g.i1 - g.i0 and tostring(g.i1)
                or string.format("ib + %d < %d ? ib + %d : %d", g.rb, g.i1, g.rb, g.i1)
            end
          end
          grp.blocks[#grp.blocks + 1] = g
        end
      end
    end
    grp.has_i = #grp.blocks > 0
    grp.has_j = false
    for _, g in ipairs(grp.blocks) do
      if g.jmain > g.j0 then grp.has_j = true end
    end
    grp.accs = {}
    for kbo = 0, kb - 1 do
      for r = 0, rb - 1 do
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
        for r = 0, rb - 1 do names[#names + 1] = string.format("a_k%d_r%d_t%d[l]", kbo, r, t.slot) end
        grp.sums[#grp.sums + 1] = { part = plan.linear({ { "kb", grp.n } }, kbo * grp.n + t.slot),
          value = table.concat(names, " + ") }
      end
    end
    P.TGROUPS[#P.TGROUPS + 1] = grp
  end
  P.MACS = macs
  P.TLOOP = tloop
  P.PART_ROWS = kc * tg
  P.FIRST_K = L.g == 1 and "0" or string.format("c / %d * %d", V.CG, V.KG)
  P.LAST_K = L.g == 1 and tostring(V.KG) or string.format("c / %d * %d + %d", V.CG, V.KG, V.KG)
  P.DY = {}
  for kbo = 0, kb - 1 do
    local d = { name = "d" .. kbo,
      ptr = string.format("grad_output + (%s) * %d",
        plan.linear({ { "n", L.k }, { "k", 1 }, { "kb", 1 } }, kbo), L.oh * L.ow) }
    if dyv then
      d.ptr = kbo == 0 and "dyv" or string.format("dyv + %d", kbo * L.oh * pitch)
      d.dst = plan.linear({ { "i", pitch }, { "j", 1 } }, kbo * L.oh * pitch)
      d.src = plan.linear({ { "n", L.k * L.oh * L.ow }, { "k", L.oh * L.ow }, { "kb", L.oh * L.ow },
                            { "i", L.ow }, { "j", 1 } }, kbo * L.oh * L.ow)
    end
    P.DY[#P.DY + 1] = d
  end
  -- The parts of the copies that no copy loop writes: zeroed once per call.
  P.ZEROS = {}
  local function zero(i0, i1, u0, u1, base)
    if i1 > i0 and u1 > u0 then
      P.ZEROS[#P.ZEROS + 1] = { i0 = i0, i1 = i1, u0 = u0, u1 = u1, array = base.array,
        dst = plan.linear({ { "i", pitch }, { "u", 1 } }, base.off) }
    end
  end
  if dyv then
    P.DYV = { size = kb * L.oh * pitch }
    for kbo = 0, kb - 1 do
      zero(0, L.oh, L.ow, pitch, { array = "dyv", off = kbo * L.oh * pitch })
    end
  end
  if view then
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
  P.SRC = view and "xv" or "xn"
  return P
end

-- Return the names every template sees: the layer's numbers in MATH.md's
-- letters and the precomputed plan.
local function template_vars(L)
  local V = {
    VERSION = L.version, NAME = L.name, T = L.dtype,
    N = L.n, C = L.c, K = L.k, G = L.g, H = L.h, W = L.w, K1 = L.k1, K2 = L.k2,
    SH = L.sh, SW = L.sw, PH = L.ph, PW = L.pw, DH = L.dh, DW = L.dw, OH = L.oh, OW = L.ow,
    CG = L.c // L.g, KG = L.k // L.g,
    HW = L.h * L.w, OHOW = L.oh * L.ow, K1K2 = L.k1 * L.k2,
    INPUT_SIZE = L.n * L.c * L.h * L.w,
    WEIGHT_SIZE = L.k * (L.c // L.g) * L.k1 * L.k2,
    OUTPUT_SIZE = L.n * L.k * L.oh * L.ow,
    GUARD = "CONVGEN_" .. L.name .. "_H",
    COMMAND = command(L),
    LAYER_ID = layer_id(command(L)),
    IN_CHANNEL = in_channel_expr(L),
    IN_CHANNEL_C = plan.linear({ { "n", L.c }, { "c", 1 } }, 0),
    GROUP_CHANNEL = L.g == 1 and "c" or plan.group_channel(L.k // L.g, L.c // L.g),
    OUT_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0),
    W_PLANE = plan.linear({ { "k", L.c // L.g }, { "c", 1 } }, 0),
    Y_INDEX = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0),
    OPS = {},
  }
  for _, op in ipairs(L.ops) do V.OPS[op] = true end

  V.F = forward_plan(L, V)
  V.GI = grad_input_plan(L, V)
  V.GW = grad_weight_plan(L, V)
  V.LANES = L.dtype == "float" and 16 or 8
  V.OHOW_MAIN = V.OHOW - V.OHOW % V.LANES

  -- Cost per call, counted from the multiply-adds the plans emit, times the
  -- loops around them.
  local fm = L.n * L.k * V.CG * V.F.MACS // V.F.NB
  local gim = L.n * L.c * V.KG * V.GI.MACS // V.GI.NB
  local gwm = L.k * V.CG * L.n * V.GW.MACS
  local costs = {
    forward = string.format("forward %d mul %d add", fm, fm),
    grad_weight = string.format("grad_weight %d mul %d add", gwm, gwm),
    grad_input = string.format("grad_input %d mul %d add", gim, gim),
    grad_bias = string.format("grad_bias %d add", V.OUTPUT_SIZE),
  }
  V.COST_LINES, V.TEMPLATE_LIST = {}, {}
  for _, op in ipairs(L.ops) do
    V.COST_LINES[#V.COST_LINES + 1] = costs[op]
    V.TEMPLATE_LIST[#V.TEMPLATE_LIST + 1] = op .. ".c.in"
  end
  V.TEMPLATES = table.concat(V.TEMPLATE_LIST, " ")
  return V
end

-- Return the texts of NAME.h and NAME.c for layer 'L'; 'texts' maps each
-- template's file name to its text.
local ELEM_BYTES = { float = 4, double = 8, int = 4 }

-- Return the bytes of the local arrays declared in 'text', one rendered
-- function: counted from the emitted code, as the costs are.  An upper bound
-- on what its arrays take of the stack (arrays of sibling blocks are added
-- up); scalars, which live in registers or spill, are not counted.
local function array_bytes(text)
  local total = 0
  for ctype, dims in text:gmatch("\n[ \t]*(%a+) [%w_]+(%[[%d%[%]]*%]);") do
    local n = ELEM_BYTES[ctype]
    if n then
      for d in dims:gmatch("%d+") do n = n * tonumber(d) end
      total = total + n
    end
  end
  return total
end

function convgen.generate(L, texts)
  -- Fix the op order so that '--ops grad_bias,forward' gives the same files
  -- as '--ops forward,grad_bias'.
  local asked = {}
  for _, op in ipairs(L.ops) do asked[op] = true end
  L.ops = {}
  for _, op in ipairs(OP_ORDER) do
    if asked[op] then L.ops[#L.ops + 1] = op end
  end
  local V = template_vars(L)
  local function render(name, vars)
    return template.render(name, assert(texts[name], "missing template " .. name), vars or V)
  end
  -- Render sub-template 'name' with 'vars' (over V) as C text indented by 'indent'
  -- spaces, without the last newline (the template line that calls it ends the text).
  local function sub(name, vars, indent)
    local text = render(name, setmetatable(vars, { __index = V }))
    local pad = string.rep(" ", indent)
    text = text:gsub("([^\n]*)\n", function(line) return line == "" and "\n" or pad .. line .. "\n" end)
    return (text:gsub("\n$", ""))
  end
  V.GATHER = function(groups, first, indent)
    return sub("gather.c.in", { GROUPS = groups, FIRST = first }, indent)
  end
  V.BANDS = function(P, buf, src, out_w, first, indent)
    return sub("bands.c.in", { P = P, BUF = buf, SRC = src, OUT_W = out_w, FIRST = first }, indent)
  end
  local h = render("header.h.in")
  -- The functions first: the file's head reports what their arrays take.
  local bodies, stack = {}, {}
  for _, op in ipairs(L.ops) do
    bodies[#bodies + 1] = render(op .. ".c.in")
    stack[#stack + 1] = string.format("%s %d", op, array_bytes(bodies[#bodies]))
  end
  V.STACK_LINE = table.concat(stack, ", ")
  local c = { render("source.c.in") }
  for _, body in ipairs(bodies) do c[#c + 1] = body end
  c[#c + 1] = "\n/* end of " .. L.name .. ".c */\n"
  return h, table.concat(c)
end

return convgen
