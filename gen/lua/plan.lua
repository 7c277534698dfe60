-- plan.lua: where the kernel window meets the border, decided at generation time.
-- Every function here works on one axis and only on numbers: the templates
-- print what it returns and do no index arithmetic of their own.

local plan = {}

-- Return floor(a / b) for integers, b > 0.
local function fdiv(a, b) return a // b end

-- Return ceil(a / b) for integers, b > 0.
local function cdiv(a, b) return -((-a) // b) end

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

-- Return sum(coef * var) + const as the comments of the generated file print
-- it: i*2 + m*3 - 1, with factors of 1 and a zero constant left out.
function plan.formula(terms, const)
  local parts = {}
  for _, term in ipairs(terms) do
    local var, coef = term[1], term[2]
    if coef ~= 0 then parts[#parts + 1] = coef == 1 and var or (var .. "*" .. coef) end
  end
  local s = table.concat(parts, " + ")
  if s == "" then return tostring(const) end
  if const > 0 then return s .. " + " .. const end
  if const < 0 then return s .. " - " .. -const end
  return s
end

-- Return, as plan.formula prints it, the input channel c of the group of
-- output channel k: k/kg*cg + c, for kg output and cg input channels a group.
function plan.group_channel(kg, cg)
  return plan.formula({ { kg == 1 and "k" or ("k/" .. kg), cg }, { "c", 1 } }, 0)
end

-- Return the C expression of the input channel that output channel k's
-- tap c reads in sample n: n*C + (k / (K/G))*(C/G) + c.
function plan.in_channel(L)
  local cg, kg = L.c // L.g, L.k // L.g
  if L.g == 1 then return plan.linear({ { "n", L.c }, { "c", 1 } }, 0) end
  local group = kg == 1 and "k" or ("k / " .. kg)
  return plan.linear({ { "n", L.c }, { group, cg }, { "c", 1 } }, 0)
end

-- Return the C expressions of the output channels of input channel c's group:
-- the first, and the one past the last.
function plan.group_outputs(L)
  local cg, kg = L.c // L.g, L.k // L.g
  if L.g == 1 then return "0", tostring(kg) end
  return string.format("c / %d * %d", cg, kg), string.format("c / %d * %d + %d", cg, kg, kg)
end

-- Return the runs of positions 0..count-1 along one axis whose valid taps are
-- the same.  Each entry of 'taps' is { t = tap, lo = first, hi = last valid
-- position, off = source offset }; runs with no valid tap are kept (their
-- outputs still need a value).  Each run is { first, last, taps }.
function plan.cut(count, taps)
  local cuts = { [0] = true, [count] = true }
  for _, t in ipairs(taps) do
    for _, c in ipairs({ t.lo, t.hi + 1 }) do
      if c > 0 and c < count then cuts[c] = true end
    end
  end
  local points = {}
  for c in pairs(cuts) do points[#points + 1] = c end
  table.sort(points)
  local runs = {}
  for r = 1, #points - 1 do
    local first, last = points[r], points[r + 1] - 1
    local valid = {}
    for _, t in ipairs(taps) do
      if t.lo <= first and last <= t.hi then valid[#valid + 1] = t end
    end
    runs[#runs + 1] = { first = first, last = last, taps = valid }
  end
  return runs
end

-- Return the taps of one axis of Y: { t, off, lo, hi } for tap t, whose
-- output o reads source position stride*o + off, inside 0..size-1 for o in
-- lo..hi (not clamped to the outputs).
function plan.forward_taps(size, taps, stride, pad, dil)
  local list = {}
  for t = 0, taps - 1 do
    list[#list + 1] = {
      t = t, off = t * dil - pad,
      lo = cdiv(pad - t * dil, stride), hi = fdiv(size - 1 + pad - t * dil, stride),
    }
  end
  return list
end

-- Return the gather plan of one axis of Y: output o = u reads source
-- position stride*u + t*dil - pad for tap t.  One segment (phase 0, step 1).
function plan.forward_axis(out, size, taps, stride, pad, dil)
  local list = plan.forward_taps(size, taps, stride, pad, dil)
  return { { phase = 0, step = 1, count = out, src_step = stride, runs = plan.cut(out, list) } }
end

-- Return the gather plan of one axis of dI: position y = stride*u + r (phase r)
-- sums dY at u + e for each tap t with r + pad - t*dil == stride*e, so that
-- every phase reads dY with step 1 and code size does not grow with the size.
function plan.grad_input_axis(size, out, taps, stride, pad, dil)
  local segs = {}
  for r = 0, math.min(stride, size) - 1 do
    local list = {}
    for t = 0, taps - 1 do
      local d = r + pad - t * dil
      if d % stride == 0 then
        local e = d // stride
        list[#list + 1] = { t = t, off = e, lo = -e, hi = out - 1 - e }
      end
    end
    local count = cdiv(size - r, stride)
    segs[#segs + 1] = { phase = r, step = stride, count = count, src_step = 1,
                        runs = plan.cut(count, list) }
  end
  return segs
end

-- Return the 2-D gather blocks of a plane from its row and column plans:
-- output (i, j) of a block is plane position (rstep*i + rphase, cstep*j +
-- cphase), and its tap (m, q) reads source position (rsrc*i + off_m, csrc*j +
-- off_q).  Each block keeps its segments (rseg, cseg) and the taps of its row
-- and column runs (rtaps, ctaps).  With the widths of the two planes, 'out_w'
-- and 'src_w', a block also has the flat offsets of its outputs and sources
-- (out_i, out_j, out_off; src_i, src_j; a tap's off); without them (the
-- scalar schedule, whose indices come from the layout's strides) it has not.
function plan.gather_blocks(rows, cols, out_w, src_w)
  local blocks = {}
  for _, rs in ipairs(rows) do
    for _, cs in ipairs(cols) do
      for _, r in ipairs(rs.runs) do
        for _, c in ipairs(cs.runs) do
          local taps = {}
          for _, tm in ipairs(r.taps) do
            for _, tq in ipairs(c.taps) do
              taps[#taps + 1] = { m = tm.t, q = tq.t, off = src_w and tm.off * src_w + tq.off,
                                  roff = tm.off, coff = tq.off }
            end
          end
          local b = { i0 = r.first, i1 = r.last + 1, j0 = c.first, j1 = c.last + 1,
                      rseg = rs, cseg = cs, rtaps = r.taps, ctaps = c.taps, taps = taps }
          if out_w then
            b.out_i, b.out_j, b.out_off = rs.step * out_w, cs.step, rs.phase * out_w + cs.phase
            b.src_i, b.src_j, b.src_w = rs.src_step * src_w, cs.src_step, src_w
          end
          blocks[#blocks + 1] = b
        end
      end
    end
  end
  return blocks
end

-- Return how many zero rows (or columns) a copy of dY needs before and after
-- it so that, in every phase of plan.grad_input_axis, every tap is valid.
function plan.view_pads(size, out, taps, stride, pad, dil)
  local before, after = 0, 0
  for r = 0, math.min(stride, size) - 1 do
    local count = cdiv(size - r, stride)
    for t = 0, taps - 1 do
      local d = r + pad - t * dil
      if d % stride == 0 then
        local e = d // stride
        before = math.max(before, -e)
        after = math.max(after, count - 1 + e - (out - 1))
      end
    end
  end
  return before, after
end

-- Return the row pitch of a padded copy 'cols' wide: a multiple of 'align'
-- elements (a whole number of vectors), so every row starts as aligned as the
-- first.  Workaround for a gcc 12.2 bug, not for undefined behaviour (the indices
-- are in bounds; ASan/UBSan are clean): with a 66-float pitch, -O3 -march=native
-- (AVX-512) vectorizes the j loop with 64-byte vectors and its epilogue with
-- 32-byte vectors (vect-epilogues-nomask); the epilogue's analysis decides to
-- "force alignment" of the stack copy xv to 32 bytes and emits vmovaps for a tap
-- at misalignment 0, but xv keeps its 16-byte alignment in the frame, so the load
-- faults.  --param vect-epilogues-nomask=0 or -mprefer-vector-width=256 also
-- avoid it; clang and gcc -O2 are not affected.
function plan.row_pitch(cols, align)
  return (cols + align - 1) // align * align
end

return plan
