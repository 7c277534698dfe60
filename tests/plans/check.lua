-- tests/plans/check.lua: walk the plans of one generated layer as the templates
-- run them, in the generator's own Lua state (tests/test_plans.c loads it through
-- cg_lua_check_plans), and check what they promise.  No C compiler: every index
-- the plans print is evaluated here, loop by loop.
--
-- Each output element of a simulated op records the (source element, weight tap)
-- pairs its sum took; they must be exactly the pairs of docs/math.md whose source
-- lies inside the unpadded array, each once, plus (for a plan that reads a
-- zero-padded copy) reads of zeros.  Every read must lie inside its array or its
-- copy, every output be written once per pass.  The report gives each op's mode
-- ("copy": reads a padded copy, performs every tap; "border": skips the padding
-- taps) and the multiply-adds simulated, for test_plans.c to compare with the
-- header and with its own count; lines starting "FAIL" are failures.

local FAILED = {}
local failures = {}

local function fail(fmt, ...)
  failures[#failures + 1] = string.format(fmt, ...)
  error(FAILED, 0)
end

local function need(ok, fmt, ...)
  if not ok then fail(fmt, ...) end
end

-- The C int expressions of the plans, as Lua over the shared variables E:
-- every division in them is of non-negative ints.
local E, cache = {}, {}
local function ev(expr)
  if math.type(expr) == "integer" then return expr end
  local f = cache[expr]
  if not f then
    -- "/" only divides ints here; "//" keeps the result an int.
    local lua = expr:gsub(" / ", " // ")
    f = assert(load("return " .. lua, "=" .. expr, "t", E))
    cache[expr] = f
  end
  return f()
end

-- Parse "name[expr]" into name, expr.
local function subscript(text)
  return text:match("^([%w_]+)%[(.+)%]$")
end

-- Return the elements of 'keys' that 'want' lacks and those it has twice or
-- more, as a message; nil when the two are the same set, each key once.
local function compare(keys, want)
  local seen, extra, missing = {}, {}, {}
  for _, key in ipairs(keys) do
    if seen[key] or not want[key] then extra[#extra + 1] = key end
    seen[key] = true
  end
  for key in pairs(want) do
    if not seen[key] then missing[#missing + 1] = key end
  end
  if #extra == 0 and #missing == 0 then return nil end
  table.sort(missing)
  return string.format("extra or repeated pairs {%s}, missing pairs {%s}",
    table.concat(extra, " "), table.concat(missing, " "))
end

-- Strides (elements) of the four arrays, from docs/api.md's layouts: written
-- again here, not taken from direct.strides, so that the oracle shares no
-- layout arithmetic with the generator it checks.
local function strides(L)
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

-- Every (i, j, m, q) of one plane whose input position (y, x) lies inside the
-- input: fn(i, j, m, q, y, x).
local function each_plane_pair(L, fn)
  for i = 0, L.oh - 1 do
    for m = 0, L.k1 - 1 do
      local y = i * L.sh + m * L.dh - L.ph
      if y >= 0 and y < L.h then
        for j = 0, L.ow - 1 do
          for q = 0, L.k2 - 1 do
            local x = j * L.sw + q * L.dw - L.pw
            if x >= 0 and x < L.w then fn(i, j, m, q, y, x) end
          end
        end
      end
    end
  end
end

-- Every (n, k, c, i, j, m, q) of the layer whose input position lies inside the
-- input: fn(n, k, c, i, j, m, q, y, x), c counted within k's group.
local function each_pair(L, fn)
  local cg = L.c // L.g
  for n = 0, L.n - 1 do
    for k = 0, L.k - 1 do
      for c = 0, cg - 1 do
        each_plane_pair(L, function(i, j, m, q, y, x) fn(n, k, c, i, j, m, q, y, x) end)
      end
    end
  end
end

-- The expected pairs of each output element of the three convolution ops, keyed
-- by the element's index in its array (layout strides): sets of "src:weight".
local function expected(L)
  local st = strides(L)
  local kg = L.k // L.g
  local cg = L.c // L.g
  local F, GI, GW = {}, {}, {}
  local function add(t, e, key)
    local s = t[e]
    if not s then s = {}; t[e] = s end
    s[key] = true
  end
  each_pair(L, function(n, k, c, i, j, m, q, y, x)
    local ch = k // kg * cg + c
    local xi = n * st.I.n + ch * st.I.c + y * st.I.y + x * st.I.x
    local yi = n * st.Y.n + k * st.Y.c + i * st.Y.y + j * st.Y.x
    local wi = k * st.W.k + c * st.W.c + m * st.W.m + q * st.W.q
    add(F, yi, xi .. ":" .. wi)
    add(GI, xi, yi .. ":" .. wi)
    add(GW, wi, yi .. ":" .. xi)
  end)
  return { forward = F, grad_input = GI, grad_weight = GW }
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

----------------------------------------------------------------------------
-- The gather plans (gen/lua/gather.lua, templates gather_op, gather, bands):
-- one pass over one source plane, for the NB output planes of a channel block.

local function sim_gather(L, V, P, op)
  local fwd = op == "forward"
  local out_h, out_w = fwd and L.oh or L.h, fwd and L.ow or L.w
  local src_h, src_w = fwd and L.h or L.oh, fwd and L.w or L.ow
  local out_size, src_size = out_h * out_w, src_h * src_w
  -- Expected pairs of a plane element: "source position:m:q", source inside.
  local want = {}
  for p = 0, out_size - 1 do want[p] = {} end
  each_plane_pair(L, function(i, j, m, q, y, x)
    if fwd then
      want[i * L.ow + j][(y * L.w + x) .. ":" .. m .. ":" .. q] = true
    else
      want[y * L.w + x][(i * L.ow + j) .. ":" .. m .. ":" .. q] = true
    end
  end)
  -- Weights the gather hoists: name -> block, m, q, at w[b*stride + m*K2 + q].
  local stride = fwd and V.CG * V.K1K2 or V.K1K2
  local weights = {}
  for _, t in ipairs(P.WEIGHTS) do
    local b, m, q = t.name:match("^w_[kc](%d+)_m(%d+)_q(%d+)$")
    b, m, q = tonumber(b), tonumber(m), tonumber(q)
    need(b and t.index == b * stride + m * L.k2 + q, "weight %s at w[%d]", t.name, t.index)
    need(m < L.k1 and q < L.k2 and b < P.NB, "weight %s outside the kernel", t.name)
    weights[t.name] = { b = b, m = m, q = q }
  end
  -- Output pointers: plane block and offset (band pointers move with band_i).
  local ptrs = {}
  for b, p in ipairs(P.PLANES) do
    ptrs[p.ptr] = { b = b - 1, off = 0 }
    if p.band_ptr then ptrs[p.band_ptr] = { b = b - 1, off = 0, band = true } end
  end
  local buf, copied = {}, {}
  local function read(src, idx)
    if src == P.COPY then
      need(idx >= 0 and idx < P.BUFFER, "%s reads %s[%d] outside its %d elements", op, src, idx, P.BUFFER)
      return buf[idx] or 0
    end
    need(src == P.SRC, "%s reads unknown array %s", op, tostring(src))
    need(not (P.VIEW or P.BANDS), "%s reads its source plane beside its copy", op)
    need(idx >= 0 and idx < src_size, "%s reads %s[%d] outside its %d elements", op, src, idx, src_size)
    return idx + 1
  end
  local writes, clamped_writes, macs, pass_first
  local ever = {}  -- elements written by an earlier pass, or this one
  local function element(dst)
    local ptr, index = subscript(dst)
    local p = ptrs[ptr]
    need(p, "%s stores through unknown pointer %s", op, tostring(ptr))
    local pos = ev(index) + (p.band and E.band_i * P.OUT_W or 0)
    need(pos >= 0 and pos < out_size, "%s writes %s outside its plane (position %d of %d)", op, dst, pos, out_size)
    return p.b, pos
  end
  -- Run the accumulators, terms and stores of one output position.
  local function position(g, accs_init, terms, stores, clamped, values)
    local accs = {}
    for _, a in ipairs(g.accs) do
      local init = pass_first and a.init_first or a[accs_init]
      local acc = { pairs = {}, zeros = 0 }
      if init == "0" or init:match("^b%d+$") then
        acc.base = "init"
      else
        local b, pos = element(init)
        need(ever[b * out_size + pos], "%s reads its output %s before writing it", op, init)
        acc.base = b * out_size + pos
      end
      accs[a.name] = acc
    end
    for _, t in ipairs(terms) do
      local acc = accs[t.acc]
      need(acc, "%s: term of undeclared sum %s", op, t.acc)
      local id
      if t.index then
        local idx = ev(t.index)
        id = read(t.src, idx)
        if t.ysrc then
          need(idx >= 0 and idx < src_size, "%s reads its mask %s[%d] outside", op, t.ysrc, idx)
        end
      else
        id = values(t.src)
      end
      local w = weights[t.w]
      need(w, "%s uses weight %s the plan does not load", op, t.w)
      if id == 0 then
        acc.zeros = acc.zeros + 1
      else
        acc.pairs[#acc.pairs + 1] = (id - 1) .. ":" .. w.m .. ":" .. w.q
      end
      acc.wb = acc.wb or w.b
      need(acc.wb == w.b, "%s sums weights of two channel blocks in %s", op, t.acc)
    end
    for _, s in ipairs(stores) do
      local b, pos = element(s.dst)
      local keys, zeros, base = {}, 0, nil
      for name in s.value:gmatch("[%w_]+") do
        local acc = accs[name]
        if acc then
          need(acc.wb == nil or acc.wb == b, "%s stores block %d's sum into plane %d", op, acc.wb or -1, b)
          if acc.base ~= "init" then
            need(base == nil, "%s: two sums of %s start from the output", op, s.dst)
            base = acc.base
          end
          for _, key in ipairs(acc.pairs) do keys[#keys + 1] = key end
          zeros = zeros + acc.zeros
        end
      end
      if pass_first then
        need(base == nil, "%s: the first pass's sum of %s starts from an output", op, s.dst)
      else
        need(base == b * out_size + pos, "%s: a later pass's sum of %s does not start from it", op, s.dst)
      end
      local diff = compare(keys, want[pos])
      need(not diff, "%s: output plane %d position %d (%s): %s", op, b, pos, s.dst, diff or "")
      writes[b][pos] = writes[b][pos] + 1
      ever[b * out_size + pos] = true
      if clamped then clamped_writes[b][pos] = clamped_writes[b][pos] + 1 end
      macs[b][pos] = #keys + zeros
    end
  end
  local function run_groups(groups)
    for _, g in ipairs(groups) do
      if g.roll then
        for ib = g.i0, g.i1 - 1, g.rb do
          E.ib = ib
          local ie = math.min(ib + g.rb, g.i1)
          local j = g.j0
          while j < g.j1 do
            local clamped = false
            if g.jlast and j > g.jlast then j, clamped = g.jlast, true end
            E.j = j
            local carried = {}
            for _, c in ipairs(g.carried) do
              carried[c.name] = {}
              for l = 0, g.lanes - 1 do
                E.l = l
                carried[c.name][l] = read(c.src, ev(c.index))
              end
            end
            for i = ib, ie - 1 do
              E.i = i
              for l = 0, g.lanes - 1 do
                E.l = l
                local fresh = {}
                for _, f in ipairs(g.loads) do fresh[f.name] = read(f.src, ev(f.index)) end
                local function value(name)
                  local c = name:match("^([%w_]+)%[l%]$")
                  local v
                  if c then v = carried[c] and carried[c][l] else v = fresh[name] end
                  need(v ~= nil, "%s: rolling term reads %s, never loaded", op, name)
                  return v
                end
                position(g, "lane_init_next", g.lane_terms, g.lane_stores, clamped, value)
                for _, r in ipairs(g.rotate) do carried[r.dst][l] = value(r.value) end
              end
            end
            j = j + g.lanes
          end
        end
      elseif pass_first or not g.empty then
        for i = g.i0, g.i1 - 1, g.step do
          E.i = i
          local j = g.j0
          while j < g.jmain do
            local clamped = false
            if g.jlast and j > g.jlast then j, clamped = g.jlast, true end
            E.j = j
            for l = 0, g.lanes - 1 do
              E.l = l
              position(g, "lane_init_next", g.lane_terms, g.lane_stores, clamped)
            end
            j = j + g.lanes
          end
          for jj = g.jmain, g.j1 - 1 do
            E.j, E.l = jj, 0
            position(g, "init_next", g.terms, g.stores, false)
          end
        end
      end
    end
  end
  local function pass(first)
    pass_first = first
    writes, clamped_writes, macs = {}, {}, {}
    for b = 0, P.NB - 1 do
      writes[b], clamped_writes[b], macs[b] = {}, {}, {}
      for p = 0, out_size - 1 do writes[b][p], clamped_writes[b][p], macs[b][p] = 0, 0, 0 end
    end
    -- The copy is zeroed once per call; each pass copies its plane in.
    if P.VIEW then
      for i = 0, P.VIEW.rows - 1 do
        for j = 0, P.VIEW.cols - 1 do
          E.i, E.j = i, j
          local d, s = ev(P.VIEW.dst), ev(P.VIEW.src)
          need(d >= 0 and d < P.BUFFER, "%s copies into %s[%d] outside its %d elements", op, P.COPY, d, P.BUFFER)
          need(s >= 0 and s < src_size, "%s copies from %s[%d] outside", op, P.SRC, s)
          need(not copied[d] or copied[d] == s + 1, "%s copies two elements into %s[%d]", op, P.COPY, d)
          buf[d], copied[d] = s + 1, s + 1
        end
      end
      run_groups(P.GROUPS)
    elseif P.BANDS then
      local bc = P.BAND_COPY
      for _, band in ipairs(P.BANDS) do
        for band_i = band.i0, band.i1 - 1, band.rows do
          E.band_i = band_i
          for r = 0, band.srows - 1 do
            E.r = r
            local s = ev(bc.src_row)
            need(not copied[bc.zero], "%s's band zero %s[%d] is an element a copy writes", op, P.COPY, bc.zero)
            local inside = s >= 0 and s < bc.rows
            for col = 0, bc.cols - 1 do
              E.s, E.col = s, col
              local d = ev(bc.dst)
              need(d >= 0 and d < P.BUFFER, "%s copies into %s[%d] outside its %d elements", op, P.COPY, d, P.BUFFER)
              need(d ~= bc.zero, "%s's band copy writes its zero element", op)
              if inside then
                local si = ev(bc.src)
                need(si >= 0 and si < src_size, "%s copies from %s[%d] outside", op, P.SRC, si)
                buf[d] = si + 1
              else
                buf[d] = 0
              end
              copied[d] = true
            end
          end
          run_groups(band.groups)
        end
      end
    else
      run_groups(P.GROUPS)
    end
    local total = 0
    for b = 0, P.NB - 1 do
      for p = 0, out_size - 1 do
        local w, c = writes[b][p], clamped_writes[b][p]
        -- A later pass skips the positions no tap reaches: they keep the first's zero.
        if w == 0 and (pass_first or next(want[p]) ~= nil) then
          local gs = {}
          for _, g in ipairs(P.GROUPS or {}) do
            gs[#gs + 1] = string.format("[%s %d..%d/%d j %d..%d..%d %s]", tostring(g.roll), g.i0, g.i1, g.step or 0, g.j0, g.jmain or -1, g.j1, tostring(g.empty))
          end
          fail("%s never writes plane %d position %d; groups %s", op, b, p, table.concat(gs, " "))
        end
        need(w - c <= 1 and c <= 1, "%s writes plane %d position %d %d times", op, b, p, w)
        need(c == 0 or not P.SECOND_PASS, "%s recomputes plane %d position %d with a second pass", op, b, p)
        total = total + macs[b][p]
      end
    end
    return total
  end
  local per_pass = pass(true)
  need(per_pass == P.MACS, "%s: the plan counts %d multiply-adds a pass, its loops do %d", op, P.MACS, per_pass)
  if P.SECOND_PASS then
    local again = pass(false)
    need(again == per_pass, "%s: the second pass does %d multiply-adds, the first %d", op, again, per_pass)
  end
  local outer = fwd and L.k or L.c
  local inner = fwd and V.CG or V.KG
  return L.n * (outer // P.NB) * inner * per_pass
end

----------------------------------------------------------------------------
-- The scalar plans (gen/lua/direct.lua, templates/direct.c.in): their steps
-- run here, load by load and multiply-add by multiply-add, over the layer's
-- whole arrays.

local function sizes(V)
  return { input = V.INPUT_SIZE, grad_input = V.INPUT_SIZE, output = V.OUTPUT_SIZE,
           grad_output = V.OUTPUT_SIZE, weight = V.WEIGHT_SIZE, grad_weight = V.WEIGHT_SIZE }
end

-- Run the steps of a block (direct.lua: loads, then multiply-adds) over the
-- ints in E: loads into 'vals' ({ array, index }), multiply-adds into the pair
-- lists of 'accs'.
local function run_steps(steps, V, vals, accs, what)
  for _, st in ipairs(steps) do
    for _, x in ipairs(st.loads) do
      local size = sizes(V)[x.src]
      need(size, "%s: load %s from unknown array %s", what, x.name, tostring(x.src))
      -- Under a fused ReLU only dY is masked, by Y (the template reads both at x.index).
      need(x.mask == nil or (x.src == "grad_output" and x.mask == "output"),
        "%s masks %s with %s", what, x.src, tostring(x.mask))
      local idx = ev(x.index)
      need(idx >= 0 and idx < size, "%s reads %s[%d] outside its %d elements", what, x.src, idx, size)
      vals[x.name] = { array = x.src, index = idx }
    end
    for _, m in ipairs(st.madds) do
      local p = accs[m.acc]
      need(p, "%s: multiply-add into an undeclared sum: %s", what, m.acc)
      local a, b = vals[m.a], vals[m.b]
      need(a and b, "%s: multiply-add of values never loaded: %s += %s * %s", what, m.acc, m.a, m.b)
      p[#p + 1] = { a, b }
    end
  end
end

-- Run a block's loop over its rows of taps (direct.lua's rows): each row's
-- weights from wr, sources from sr, both a constant step from the last.
local function run_rows(rows, V, vals, accs, what)
  -- A loop over rows of taps walks its source rows upward in memory: gcc 12
  -- vectorizes a downward walk with loads past the array (test_vectorizer).
  need(rows.s_step >= 0, "%s: rows of taps walked downward: step %d", what, rows.s_step)
  for mr = 0, rows.count - 1 do
    E.wr, E.sr = E.wi + mr * rows.w_step, E.si + mr * rows.s_step
    run_steps(rows.steps, V, vals, accs, what)
  end
end

-- Check the pairs of the sum of output element 'idx' of 'array' against 'want'
-- (keys "first:second", in the order of expected()).
local function store(state, array, idx, pairs_, order)
  local size = sizes(state.V)[array]
  need(size and idx >= 0 and idx < size, "%s writes %s[%d] outside", state.op, array, idx)
  local keys = {}
  for _, p in ipairs(pairs_) do
    local a, b = p[1], p[2]
    if order[a.array] ~= 1 then a, b = b, a end
    need(order[a.array] == 1 and order[b.array] == 2, "%s multiplies %s by %s", state.op, a.array, b.array)
    keys[#keys + 1] = a.index .. ":" .. b.index
  end
  local diff = compare(keys, state.want[idx] or {})
  need(not diff, "%s: %s[%d]: %s", state.op, array, idx, diff or "")
  state.writes[idx] = (state.writes[idx] or 0) + 1
  state.macs = state.macs + #keys
end

local function finish(state, array)
  local size = sizes(state.V)[array]
  for idx = 0, size - 1 do
    need(state.writes[idx] == 1, "%s writes %s[%d] %d times", state.op, array, idx, state.writes[idx] or 0)
  end
  return state.macs
end

local function sim_direct_gather(L, V, P, op, want)
  local state = { V = V, op = op, want = want, writes = {}, macs = 0 }
  local order = op == "forward" and { input = 1, weight = 2 } or { grad_output = 1, weight = 2 }
  for n = 0, L.n - 1 do
    E.n = n
    for _, pass in ipairs(P.PASSES) do
      for outer = 0, P.OUTER_COUNT - 1, pass.ob do
        E[P.OUTER] = outer
        local sb = P.HAS_TAPS and ev(P.SRC_BASE)
        local wb = P.HAS_TAPS and ev(P.W_BASE)
        local ob = ev(P.OUT_BASE)
        for _, b in ipairs(pass.blocks) do
          for u = b.i0, b.i1 - 1 do
            for _, var in ipairs(b.variants) do
              for v = var.v0, var.v1 - 1, var.r do
                E.u, E.v = u, v
                local oi = ob + ev(b.out)
                local accs, vals = {}, {}
                for _, a in ipairs(var.sums) do
                  need(a.init == "0" or (P.BIAS and a.init:match("^b%d+$")), "%s: sum %s starts from %s",
                    op, a.name, a.init)
                  accs[a.name] = {}
                end
                if #b.taps > 0 then
                  local si0 = sb + ev(b.src)
                  for sum = 0, P.SUM_COUNT - 1 do
                    E.si, E.wi = si0 + sum * P.SRC_SUM, wb + sum * P.W_SUM
                    if var.rows then
                      run_rows(var.rows, V, vals, accs, op)
                    else
                      run_steps(var.steps, V, vals, accs, op)
                    end
                  end
                end
                for _, st in ipairs(var.stores) do
                  need(accs[st.acc] and math.type(st.off) == "integer", "%s: unknown store of %s", op, st.acc)
                  store(state, P.OUT, oi + st.off, accs[st.acc], order)
                end
              end
            end
          end
        end
      end
    end
  end
  return finish(state, P.OUT)
end

local function sim_direct_grad_weight(L, V, P, want)
  local state = { V = V, op = "grad_weight", want = want, writes = {}, macs = 0 }
  local order = { grad_output = 1, input = 2 }
  local lo, hi = {}, {}
  if P.ROWS then
    need(P.ROWS.X_STEP > 0, "grad_weight: rows of taps walked downward (step %d)", P.ROWS.X_STEP)
    for x in P.ROWS.LO:gmatch("%-?%d+") do lo[#lo + 1] = tonumber(x) end
    for x in P.ROWS.HI:gmatch("%-?%d+") do hi[#hi + 1] = tonumber(x) end
  end
  local function bound(b, m)
    if b == "rows_lo[m]" then return lo[m + 1] elseif b == "rows_hi[m]" then return hi[m + 1] end
    need(math.type(b) == "integer", "grad_weight: row bound %s", tostring(b))
    return b
  end
  for k = 0, L.k - 1, P.KB do
    for c = 0, V.CG - 1 do
      E.k, E.c = k, c
      E.wi = ev(P.W_BASE)
      for m = 0, P.ROWS and L.k1 - 1 or 0 do
        E.m = m
        for _, grp in ipairs(P.GROUPS) do
          local accs, vals = {}, {}
          for _, name in ipairs(grp.accs) do accs[name] = {} end
          if #grp.blocks > 0 then
            for n = 0, L.n - 1 do
              E.n = n
              E.xi = ev(P.XI)
              E.di = ev(P.D_BASE)
              for _, b in ipairs(grp.blocks) do
                for u = bound(b.u0, m), bound(b.u1, m) - 1 do
                  for _, part in ipairs(b.parts) do
                    for v = part.v0, part.v1 - 1, part.step do
                      E.u, E.v = u, v
                      E.oi, E.si = ev(b.out), ev(b.src)
                      run_steps(part.steps, V, vals, accs, "grad_weight")
                    end
                  end
                end
              end
            end
          end
          for _, st in ipairs(grp.stores) do
            need(accs[st.value], "grad_weight stores unknown sum %s", st.value)
            store(state, "grad_weight", ev(st.index), accs[st.value], order)
          end
        end
      end
    end
  end
  return finish(state, "grad_weight")
end

-- The positions grad_bias's loops visit, once each.
local function check_grad_bias(L, V)
  local count = L.oh * L.ow
  if V.DIRECT then
    local P = V.plan.grad_bias
    need(P.COUNT == count and P.MAIN % P.ACC == 0 and P.MAIN <= count and count - P.MAIN < P.ACC,
      "grad_bias: %d sums over %d positions, main loop to %d", P.ACC, P.COUNT, P.MAIN)
    need(P.STEP == (L.layout == "nhwc" and L.k or 1), "grad_bias: positions %d apart", P.STEP)
  else
    local P = V.plan.grad_bias
    need(P.OHOW_MAIN % P.LANES == 0 and P.OHOW_MAIN <= count and count - P.OHOW_MAIN < P.LANES,
      "grad_bias: %d lanes, main loop to %d of %d", P.LANES, P.OHOW_MAIN, count)
  end
end

-- The frames the header bounds, within the limit; the workspace, laid out
-- without overlap inside the bytes the header promises.
local function check_frames(L, V, info, h, c, asked)
  local line = c:match("Stack frame per function, at most %(bytes%): ([^\n]*)")
  need(line, "no stack frame line")
  for _, op in ipairs(L.ops) do
    local bytes = info.arrays[op] + info.spills[op]
    need(bytes <= V.S.stack_limit, "%s's frame %d over the limit %d", op, bytes, V.S.stack_limit)
    need(line:find(op .. " " .. bytes, 1, true), "frame line '%s' lacks %s %d", line, op, bytes)
    if L.workspace then
      need(info.workspace[op] <= V.WORKSPACE_BYTES, "%s needs %d workspace bytes of %d", op,
        info.workspace[op], V.WORKSPACE_BYTES)
    end
  end
  if L.workspace then
    need(V.WORKSPACE_BYTES > 0 and V.WORKSPACE_BYTES % V.WORKSPACE_ALIGN == 0,
      "workspace of %d bytes, alignment %d", V.WORKSPACE_BYTES, V.WORKSPACE_ALIGN)
    need(h:find(string.format("_WORKSPACE_BYTES %d\n", V.WORKSPACE_BYTES), 1, true), "header's workspace bytes")
    local GW = V.plan.grad_weight
    if not V.DIRECT and asked.grad_weight then
      local step = V.S.align // V.S.size
      local arrays = { { "xv", GW.VIEW and GW.VIEW.size }, { "dyv", GW.DYV and GW.DYV.size },
                       { "part", GW.PART_ROWS * GW.LANES } }
      local prev = 0
      for _, a in ipairs(arrays) do
        if a[2] then
          local off = GW.WS[a[1]]
          need(off and off % step == 0 and off >= prev, "grad_weight's %s at element %s", a[1], tostring(off))
          prev = off + a[2]
        end
      end
      need(prev * V.S.size <= V.WORKSPACE_BYTES, "grad_weight's arrays end at byte %d of %d",
        prev * V.S.size, V.WORKSPACE_BYTES)
    end
    for op, P in pairs({ forward = V.plan.forward, grad_input = V.plan.grad_input }) do
      if P and P.BUFFER and asked[op] then
        need(P.BUFFER * V.S.size <= V.WORKSPACE_BYTES, "copy of %d elements in %d bytes", P.BUFFER, V.WORKSPACE_BYTES)
      end
    end
  else
    need(h:find("_WORKSPACE_BYTES 0\n", 1, true), "header promises a workspace")
  end
end

return function(L, info, h, c)
  local V = info.V
  local report = {}
  local want
  local function op_check(op, fn)
    local ok, res = pcall(fn)
    if ok then
      report[#report + 1] = op .. " " .. res
    elseif res ~= FAILED then
      failures[#failures + 1] = op .. ": error: " .. tostring(res)
    end
  end
  local asked = {}
  for _, op in ipairs(L.ops) do asked[op] = true end
  if asked.sgd_update then asked.grad_weight, asked.grad_bias = true, true end
  local function expect()
    want = want or expected(L)
    return want
  end
  op_check("frames", function() check_frames(L, V, info, h, c, asked); return "ok" end)
  if asked.grad_bias then op_check("grad_bias", function() check_grad_bias(L, V); return "ok" end) end
  for _, op in ipairs({ "forward", "grad_input" }) do
    if asked[op] then
      op_check(op, function()
        if V.SIZE then return "border -" end
        if V.DIRECT then return "border " .. sim_direct_gather(L, V, V.plan[op], op, expect()[op]) end
        local P = V.plan[op]
        return ((P.VIEW or P.BANDS) and "copy " or "border ") .. sim_gather(L, V, P, op)
      end)
    end
  end
  if asked.grad_weight then
    op_check("grad_weight", function()
      if V.SIZE then return "border -" end
      if V.DIRECT then return "border " .. sim_direct_grad_weight(L, V, V.plan.grad_weight, expect().grad_weight) end
      return (V.plan.grad_weight.VIEW and "copy" or "border") .. " -"
    end)
  end
  for _, f in ipairs(failures) do report[#report + 1] = "FAIL " .. f end
  return table.concat(report, "\n") .. "\n"
end
