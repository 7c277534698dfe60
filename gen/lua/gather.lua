-- gather.lua: the gather planner of forward and grad_input.  Both ops compute an
-- output plane as a gather over a source plane: Y from I (forward), dI from dY
-- phase by phase (grad_input).  The planner chooses the source (the plane itself
-- with border blocks; a zero-padded copy of the whole plane, VIEW; or, when the
-- plane is too large for that and has column padding, zero-padded copies of bands
-- of rows, BANDS: column borders cut every row into scalar pieces, row borders
-- only cut off whole rows) and the row groups; each op says, in its geometry
-- (forward_geometry, grad_input_geometry below), what its planes, axes and names
-- are.

local plan = require "plan"
local rolling = require "rolling"

local gather = {}

-- Return the largest of S.channel_blocks that divides 'n': how many output planes
-- one pass of a gather computes, so that each source element loaded feeds several.
local function channel_block(S, n)
  for _, b in ipairs(S.channel_blocks) do
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

-- Return block 'b' as one rolling group (see rolling.lua), or nil: with unit row
-- step and a full rectangle of taps whose vectors and weights fit the registers.
local function roll_group(b, o)
  if not o.overlap or o.nb ~= 1 or #b.taps == 0 or #b.taps > o.split_taps
    or b.src_i ~= b.src_w or b.j1 - b.j0 < o.lanes or b.i1 - b.i0 < 2 then
    return nil
  end
  local win = rolling.window(b.taps, b.src_w, b.src_j, o.src)
  -- Carried and fresh source vectors plus the weights must fit the registers.
  if not win or win.rows < 2 or win.rows * win.cols + #b.taps > o.S.roll_regs then return nil end
  local g = { roll = true, lanes = o.lanes, i0 = b.i0, i1 = b.i1, step = 1, j0 = b.j0, j1 = b.j1,
              jmain = b.j1, empty = false, carried = win.carried, loads = win.loads,
              rotate = win.rotate, lane_terms = {}, terms = {}, accs = {}, lane_stores = {} }
  local tail = b.j1 - b.j0 - (b.j1 - b.j0) // o.lanes * o.lanes
  if tail > 0 then g.jlast = b.j1 - o.lanes end
  rolling.strip_rows(g, b.i0, b.i1, b.src_w, win.rows, o.S)
  local acc = string.format("%s0_%s0_s0", o.acc[1], o.acc[2])
  local out = string.format("%s0[%s]", o.ptr,
    plan.linear({ { "i", b.out_i }, { "j", b.out_j }, { "l", b.out_j } }, b.out_off))
  g.accs[1] = { name = acc, init_first = o.init(0), lane_init_next = out }
  for _, t in ipairs(b.taps) do
    g.lane_terms[#g.lane_terms + 1] = { acc = acc, src = win.x(t), w = o.w(0, t.m, t.q) }
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
      local g = { lanes = o.lanes, i0 = i0, i1 = i1, step = step, j0 = b.j0, j1 = b.j1,
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
              acc = name[kb][r][s], src = o.src, ysrc = o.ysrc, w = o.w(kb, t.m, t.q),
              index = plan.linear({ { "i", b.src_i }, { "j", b.src_j } }, r * b.src_i + t.off),
            }
            g.lane_terms[#g.lane_terms + 1] = {
              acc = name[kb][r][s], src = o.src, ysrc = o.ysrc, w = o.w(kb, t.m, t.q),
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
      if n_off <= o.S.lane_loop_offsets then g.jmain = g.j0 end
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
-- 'srows(rows)' source rows of 'row_bytes' each fit a stack copy of 'copy_bytes';
-- nil if 2 do not.
local function band_rows(count, row_bytes, copy_bytes, srows)
  local rb
  for r = 2, count do
    if srows(r) * row_bytes > copy_bytes then break end
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


-- Return the plan of one gather under schedule S from the op's geometry G.
local function gather_plan(L, S, G)
  local size = S.size
  local pitch = plan.row_pitch(G.vw, S.row_align)
  -- Under a fused ReLU, grad_input masks dY where it copies it: a copy is worth
  -- making even without padding, since each element feeds every tap.
  local view = (G.padded or G.mask) and G.vh * pitch * size <= S.copy_bytes
  local band_pitch = G.band_pitch and G.band_pitch(pitch) or pitch
  local rb = not view and G.bands and band_rows(G.count, band_pitch * size, S.copy_bytes, G.srows)
  if rb then pitch = band_pitch end
  local nb = channel_block(S, G.channels)
  local P = { NB = nb, WEIGHTS = {}, PLANES = {}, MACS = 0 }
  -- Return the taps, row groups and multiply-adds of gathering 'blocks'.
  local function groups_of(blocks, ptr)
    local taps = taps_of(blocks, L.k2)
    -- At least one: a plane no tap reaches (every window in the padding) has none.
    local split = math.max(1, (#taps + S.chain_taps - 1) // S.chain_taps)
    local o = {
      acc = G.acc, ptr = ptr, src = (view or rb) and G.copy or G.source, nb = nb, split = split,
      rows = math.max(1, S.accumulators // (nb * split)), lanes = S.lanes, overlap = G.overlap,
      roll = S.roll, split_taps = S.chain_taps, S = S, init = G.init, w = G.w,
      -- Reading the source itself under a mask: each term masks its element.
      ysrc = G.mask and not (view or rb) and G.source_y or nil,
    }
    if o.ysrc then o.roll = false end
    -- With a stride, the phases of a padded copy usually cover the same (i, j) range:
    -- one loop then computes every phase, so the strided stores of the phases meet
    -- in contiguous memory (and each source element loaded feeds more taps).
    local same = G.phases and (view or rb) and #blocks > 1 and #blocks <= S.merged_phases
    for _, b in ipairs(blocks) do
      if b.i0 ~= blocks[1].i0 or b.i1 ~= blocks[1].i1 or b.j0 ~= blocks[1].j0 or b.j1 ~= blocks[1].j1
        or #b.taps == 0 then
        same = false
      end
    end
    if not same then return taps, gather_groups(blocks, o) end
    o.roll = false
    local merged, all = nil, 0
    o.rows = math.max(1, S.accumulators // (nb * split * #blocks))
    for bi, b in ipairs(blocks) do
      o.acc = { G.acc[1], string.format("p%d_%s", bi - 1, G.acc[2]) }
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
    local cols = G.copy_cols()
    P.BANDS, taps, P.MACS = bands_of(G.count, rb, G.srows, function(rows, n)
      return groups_of(plan.gather_blocks(G.band_rows(rows, n), cols, G.out_w, pitch), G.band_ptr)
    end)
    P.BAND_COPY = G.band_copy(pitch)
    P.BUFFER = G.srows(rb) * pitch
  elseif view then
    -- A zero-padded copy of each source plane: one block (a phase), no border cases.
    local rows, cols = G.copy_rows(), G.copy_cols()
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, G.out_w, pitch), G.ptr)
    P.BUFFER = G.vh * pitch
  else
    local rows, cols = G.border_axes()
    taps, P.GROUPS, P.MACS = groups_of(plan.gather_blocks(rows, cols, G.out_w, G.src_w), G.ptr)
  end
  -- A plane no tap reaches reads nothing: no copy of it to declare and fill.
  if #taps == 0 and view then
    view, P.BUFFER = false, nil
  end
  P.TAPS, P.HAS_TAPS = taps, #taps > 0
  for b = 0, nb - 1 do
    P.PLANES[#P.PLANES + 1] = G.plane(b)
    for _, t in ipairs(taps) do
      P.WEIGHTS[#P.WEIGHTS + 1] = { name = G.w(b, t.m, t.q), index = b * G.w_stride + t.m * L.k2 + t.q }
    end
  end
  if view then P.VIEW = G.view_copy(pitch) end
  return P
end

-- The geometry of forward: Y (OH x OW) gathered from I (H x W), 'nb' output
-- channels per pass; the first input channel starts from the bias.
local function forward_geometry(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local vh, vw = L.h + L.ph + L.eh, L.w + L.pw + L.ew
  local function srows(rb) return (rb - 1) * L.sh + (L.k1 - 1) * L.dh + 1 end
  return {
    vh = vh, vw = vw, padded = L.ph + L.pw + L.eh + L.ew > 0, bands = L.pw > 0, count = L.oh, srows = srows,
    channels = kg, out_w = L.ow, src_w = L.w, w_stride = cg * L.k1 * L.k2, overlap = cg == 1,
    acc = { "y_k", "i" }, ptr = "y", band_ptr = "yb", copy = "xv", source = "x",
    init = function(kb) return "b" .. kb end,
    w = function(kb, m, q) return string.format("w_k%d_m%d_q%d", kb, m, q) end,
    copy_rows = function() return plan.forward_axis(L.oh, vh, L.k1, L.sh, 0, L.dh) end,
    copy_cols = function() return plan.forward_axis(L.ow, vw, L.k2, L.sw, 0, L.dw) end,
    band_rows = function(rows, n) return plan.forward_axis(rows, n, L.k1, L.sh, 0, L.dh) end,
    border_axes = function()
      return plan.forward_axis(L.oh, L.h, L.k1, L.sh, L.ph, L.dh),
             plan.forward_axis(L.ow, L.w, L.k2, L.sw, L.pw, L.dw)
    end,
    band_copy = function(pitch)
      return { rows = L.h, cols = L.w,
        src_row = plan.linear({ { "band_i", L.sh }, { "r", 1 } }, -L.ph),
        dst = plan.linear({ { "r", pitch }, { "col", 1 } }, L.pw),
        src = plan.linear({ { "s", L.w }, { "col", 1 } }, 0),
        zero = 0 }  -- the first column is padding: no copy writes it
    end,
    view_copy = function(pitch)
      return { rows = L.h, cols = L.w,
        dst = plan.linear({ { "i", pitch }, { "j", 1 } }, L.ph * pitch + L.pw),
        src = plan.linear({ { "i", L.w }, { "j", 1 } }, 0) }
    end,
    plane = function(kb)
      return { ptr = "y" .. kb, band_ptr = "yb" .. kb, bias = "b" .. kb,
        plane = plan.linear({ { "n", L.k }, { "k", 1 } }, kb), k = plan.linear({ { "k", 1 } }, kb) }
    end,
  }
end

-- The geometry of grad_input: dI (H x W) gathered from dY (OH x OW) phase by
-- phase, 'nb' input channels per pass; the group's first output channel starts
-- from zero.
local function grad_input_geometry(L, S)
  local cg, kg = L.c // L.g, L.k // L.g
  local top, bottom = plan.view_pads(L.h, L.oh, L.k1, L.sh, L.ph, L.dh)
  local left, right = plan.view_pads(L.w, L.ow, L.k2, L.sw, L.pw, L.dw)
  local vh, vw = L.oh + top + bottom, L.ow + left + right
  -- Bands of rows for unit row stride: every band then has one phase.
  local function srows(rb) return rb + (L.k1 - 1) * L.dh end
  return {
    vh = vh, vw = vw, padded = top + bottom + left + right > 0,
    -- Only with column padding: without it (left and right from the window alone) gcc 12
    -- spilled the carried vectors of the band (256x256 3x3: 47% of peak with border
    -- blocks, 42% with bands; padding 1: 35% and 56%).
    bands = L.sh == 1 and L.pw > 0, count = L.h, srows = srows,
    -- A band copy reads its zero from an element no copy writes (see band_copy):
    -- without left padding that is the last column of the pitch, so the pitch must be
    -- longer than the rows (with one lane, or rows of whole vectors, it is not).
    band_pitch = function(pitch) return left > 0 and pitch or plan.row_pitch(vw + 1, S.row_align) end,
    channels = cg, out_w = L.w, src_w = L.ow, w_stride = L.k1 * L.k2, overlap = kg == 1,
    phases = true,
    acc = { "dx_c", "y" }, ptr = "dx", band_ptr = "dxb", copy = "dyv", source = "dy",
    mask = L.relu, source_y = "ydy",
    init = function() return "0" end,
    w = function(cb, m, q) return string.format("w_c%d_m%d_q%d", cb, m, q) end,
    copy_rows = function() return plan.grad_input_axis(L.h, vh, L.k1, L.sh, L.ph + L.sh * top, L.dh) end,
    copy_cols = function() return plan.grad_input_axis(L.w, vw, L.k2, L.sw, L.pw + L.sw * left, L.dw) end,
    band_rows = function(rows, n) return plan.grad_input_axis(rows, n, L.k1, 1, (L.k1 - 1) * L.dh, L.dh) end,
    border_axes = function()
      return plan.grad_input_axis(L.h, L.oh, L.k1, L.sh, L.ph, L.dh),
             plan.grad_input_axis(L.w, L.ow, L.k2, L.sw, L.pw, L.dw)
    end,
    band_copy = function(pitch)
      return { rows = L.oh, cols = L.ow,
        src_row = plan.linear({ { "band_i", 1 }, { "r", 1 } }, L.ph - (L.k1 - 1) * L.dh),
        dst = plan.linear({ { "r", pitch }, { "col", 1 } }, left),
        src = plan.linear({ { "s", L.ow }, { "col", 1 } }, 0),
        -- An element no copy writes: the first column, or the last of the pitch.
        zero = left > 0 and 0 or pitch - 1 }
    end,
    view_copy = function(pitch)
      return { rows = L.oh, cols = L.ow,
        dst = plan.linear({ { "i", pitch }, { "j", 1 } }, top * pitch + left),
        src = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0) }
    end,
    plane = function(cb)
      return { ptr = "dx" .. cb, band_ptr = "dxb" .. cb,
        plane = plan.linear({ { "n", L.c }, { "c", 1 } }, cb) }
    end,
  }
end

-- Set P.PASSES, the passes over the source channels: the first (sums start from
-- the bias or zero), then a loop over the others up to loop_end.  A fused ReLU
-- ('fused') ends the sums of the last channel, so under one that channel is a
-- pass of its own after the loop (at); 'act': the pass's stores apply it.
local function passes(P, fused)
  P.PASSES = { { first = true, act = fused and not P.SECOND_PASS } }
  if P.SECOND_PASS and fused then
    if P.INNER_END > 2 then P.PASSES[2] = { loop_end = P.INNER_END - 1 } end
    P.PASSES[#P.PASSES + 1] = { at = P.INNER_END - 1, act = true }
  elseif P.SECOND_PASS then
    P.PASSES[2] = { loop_end = P.INNER_END }
  end
end

-- Return the forward plan of layer L under schedule S, with the names
-- templates/gather_op.c.in renders it with.
function gather.forward(L, S)
  local cg, kg = L.c // L.g, L.k // L.g
  local P = gather_plan(L, S, forward_geometry(L))
  P.SECOND_PASS = cg > 1 and P.HAS_TAPS
  P.OP = "forward"
  P.COPY, P.SRC, P.OUT, P.OUT_SIZE, P.OUT_W = "xv", "x", "output", L.oh * L.ow, L.ow
  P.OUTER, P.CHANNELS, P.GROUP_CHANNELS = "k", L.k, kg
  P.INNER, P.INNER_FIRST, P.INNER_NEXT, P.INNER_END = "c", "0", "1", cg
  P.UNUSED = { "input", "weight" }
  P.SRC_PLANE = string.format("input + (%s) * %d", plan.in_channel(L), L.h * L.w)
  P.W_PLANE = plan.linear({ { "k", cg }, { "c", 1 } }, 0)
  passes(P, L.relu)
  -- A pass over one input plane for each block of NB output planes.
  P.CALL_MACS = L.n * L.k * cg * P.MACS // P.NB
  return P
end

-- Return the grad_input plan of layer L under schedule S.
function gather.grad_input(L, S)
  local cg, kg, hw, ohow = L.c // L.g, L.k // L.g, L.h * L.w, L.oh * L.ow
  local first_k, last_k = plan.group_outputs(L)
  local P = gather_plan(L, S, grad_input_geometry(L, S))
  P.C_IN_GROUP = L.g == 1 and "c" or string.format("c %% %d", cg)
  P.DY_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0)
  P.W_PLANE = plan.linear({ { "k", cg }, { P.C_IN_GROUP, 1 } }, 0)
  P.SECOND_PASS = kg > 1 and P.HAS_TAPS
  P.OP = "grad_input"
  P.COPY, P.SRC, P.OUT, P.OUT_SIZE, P.OUT_W = "dyv", "dy", "grad_input", hw, L.w
  P.OUTER, P.CHANNELS, P.GROUP_CHANNELS = "c", L.c, cg
  P.INNER, P.INNER_FIRST, P.INNER_NEXT, P.INNER_END = "k", first_k, first_k .. " + 1", last_k
  P.UNUSED = { "weight", "grad_output" }
  P.SRC_PLANE = string.format("grad_output + (%s) * %d", P.DY_PLANE, ohow)
  if L.relu then
    -- The same plane of Y, whose signs mask dY.
    P.UNUSED[#P.UNUSED + 1] = "output"
    P.SRC_Y, P.SRC_Y_PLANE = "ydy", string.format("output + (%s) * %d", P.DY_PLANE, ohow)
  end
  passes(P, false)
  -- A pass over one dY plane for each block of NB input planes.
  P.CALL_MACS = L.n * L.c * kg * P.MACS // P.NB
  return P
end

return gather
