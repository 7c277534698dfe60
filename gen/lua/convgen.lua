-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.

local grad_weight = require "grad_weight"
local plan = require "plan"
local rolling = require "rolling"
local targets = require "targets"
local template = require "template"

local convgen = {}

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
-- one order (L.options, written by gen/layer.c), with '-o .' (the file's own
-- directory).
local function command(L)
  return string.format("convgen generate %s --ops %s --name %s -o .",
    L.options, table.concat(L.ops, ","), L.name)
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

-- Return the forward plan: Y gathered from I, 'nb' output channels per pass.
-- Sources: the input plane itself, with border blocks; or a zero-padded copy of
-- the whole plane (VIEW); or, when the plane is too large for that and has
-- column padding, zero-padded copies of bands of rows (BANDS): column borders cut
-- every row into scalar pieces, row borders only cut off whole rows.
local function forward_plan(L, V, S)
  local size = S.size
  local vh, vw = L.h + 2 * L.ph, L.w + 2 * L.pw
  local pitch = plan.row_pitch(vw, S.row_align)
  local view = (L.ph > 0 or L.pw > 0) and vh * pitch * size <= S.copy_bytes
  local function srows(rb) return (rb - 1) * L.sh + (L.k1 - 1) * L.dh + 1 end
  local rb = not view and L.pw > 0 and band_rows(L.oh, pitch * size, S.copy_bytes, srows)
  local nb = channel_block(V.KG)
  local P = { NB = nb, WEIGHTS = {}, PLANES = {}, MACS = 0 }
  local function groups_of(blocks, ptr)
    local taps = taps_of(blocks, L.k2)
    local split = (#taps + S.chain_taps - 1) // S.chain_taps
    return taps, gather_groups(blocks, {
      acc = { "y_k", "i" }, ptr = ptr, src = (view or rb) and "xv" or "x", nb = nb, split = split,
      rows = math.max(1, S.accumulators // (nb * split)), lanes = S.lanes, overlap = V.CG == 1,
      roll = S.roll, split_taps = S.chain_taps, S = S,
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
local function grad_input_plan(L, V, S)
  local size = S.size
  local top, bottom = plan.view_pads(L.h, L.oh, L.k1, L.sh, L.ph, L.dh)
  local left, right = plan.view_pads(L.w, L.ow, L.k2, L.sw, L.pw, L.dw)
  local vh, vw = L.oh + top + bottom, L.ow + left + right
  local pitch = plan.row_pitch(vw, S.row_align)
  local view = top + bottom + left + right > 0 and vh * pitch * size <= S.copy_bytes
  -- Bands of rows (see forward_plan) for unit row stride: every band then has one phase.
  local function srows(rb) return rb + (L.k1 - 1) * L.dh end
  -- Only with column padding: without it (left and right from the window alone) gcc 12
  -- spilled the carried vectors of the band (256x256 3x3: 47% of peak with border
  -- blocks, 42% with bands; padding 1: 35% and 56%).
  -- A band copy reads its zero from an element no copy writes (see BAND_COPY below):
  -- without left padding that is the last column of the pitch, so the pitch must be
  -- longer than the rows (with one lane, or rows of whole vectors, it is not).
  local band_pitch = left > 0 and pitch or plan.row_pitch(vw + 1, S.row_align)
  local rb = not view and L.sh == 1 and L.pw > 0
    and band_rows(L.h, band_pitch * size, S.copy_bytes, srows)
  if rb then pitch = band_pitch end
  local nb = channel_block(V.CG)
  local P = { NB = nb, WEIGHTS = {}, PLANES = {}, MACS = 0 }
  -- Return the taps, row groups and multiply-adds of gathering 'blocks'.
  local function groups_of(blocks, ptr)
    local taps = taps_of(blocks, L.k2)
    local split = (#taps + S.chain_taps - 1) // S.chain_taps
    local o = {
      acc = { "dx_c", "y" }, ptr = ptr, src = (view or rb) and "dyv" or "dy", nb = nb, split = split,
      rows = math.max(1, S.accumulators // (nb * split)), lanes = S.lanes, overlap = V.KG == 1,
      roll = S.roll, split_taps = S.chain_taps, S = S,
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
    o.rows = math.max(1, S.accumulators // (nb * split * #blocks))
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

-- Return the names every template sees: the layer's numbers in MATH.md's
-- letters and the precomputed plan.
local function template_vars(L)
  local V = {
    VERSION = L.version, NAME = L.name, T = L.dtype, TARGET = L.target,
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
    GROUP_CHANNEL = L.g == 1 and "c" or string.format("k/%d*%d + c", L.k // L.g, L.c // L.g),
    OUT_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0),
    W_PLANE = plan.linear({ { "k", L.c // L.g }, { "c", 1 } }, 0),
    Y_INDEX = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0),
    OPS = {},
  }
  for _, op in ipairs(L.ops) do V.OPS[op] = true end

  local function schedule(op) return targets.schedule(L.target, L.dtype, L.schedule[op]) end
  V.S = schedule()
  V.F = forward_plan(L, V, schedule("forward"))
  V.GI = grad_input_plan(L, V, schedule("grad_input"))
  V.GW = grad_weight.plan(L, V, schedule("grad_weight"))
  V.LANES = schedule("grad_bias").bias_lanes
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

-- Return the schedule choices 'convgen tune' times for layer 'L'.
function convgen.candidates(L)
  return targets.candidates(L.target, L.dtype)
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
