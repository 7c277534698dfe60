-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.

local direct = require "direct"
local gather = require "gather"
local grad_weight = require "grad_weight"
local plan = require "plan"
local sgd = require "sgd"
local signature = require "signature"
local targets = require "targets"
local template = require "template"

local convgen = {}

local OP_ORDER = { "forward", "grad_weight", "grad_input", "grad_bias", "sgd_update" }
-- The template of each op's function, and the template name of its plan.
local TEMPLATE_OF = { forward = "gather_op.c.in", grad_weight = "grad_weight.c.in",
                      grad_input = "gather_op.c.in", grad_bias = "grad_bias.c.in" }
local PLAN_OF = { forward = "F", grad_input = "GI" }

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

-- Return the names every template sees: the layer's numbers in docs/math.md's
-- letters and the precomputed plan.
local function template_vars(L, scalar)
  local V = {
    VERSION = L.version, NAME = L.name, T = L.dtype, TARGET = L.target,
    N = L.n, C = L.c, K = L.k, G = L.g, H = L.h, W = L.w, K1 = L.k1, K2 = L.k2,
    SH = L.sh, SW = L.sw, PH = L.ph, PW = L.pw, DH = L.dh, DW = L.dw, OH = L.oh, OW = L.ow,
    EH = L.eh, EW = L.ew, NHWC = L.layout == "nhwc",
    WORKSPACE = L.workspace,
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
    -- The comments' formulas: the input row and column that output (i, j) reads
    -- for tap (m, q); input channel c of group g; dI's rows and columns by phase.
    ROW_OF = plan.formula({ { "i", L.sh }, { "m", L.dh } }, -L.ph),
    COL_OF = plan.formula({ { "j", L.sw }, { "q", L.dw } }, -L.pw),
    CHANNEL_OF = plan.formula({ { "g", L.c // L.g }, { "c", 1 } }, 0),
    PHASE_ROW = plan.formula({ { "u", L.sh }, { "r", 1 } }, 0),
    PHASE_COL = plan.formula({ { "v", L.sw }, { "s", 1 } }, 0),
    -- The output channels of input channel c's group: FIRST_K up to LAST_K.
    FIRST_K = L.g == 1 and "0" or string.format("c / %d * %d", L.c // L.g, L.k // L.g),
    LAST_K = L.g == 1 and tostring(L.k // L.g)
      or string.format("c / %d * %d + %d", L.c // L.g, L.k // L.g, L.k // L.g),
    OUT_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0),
    W_PLANE = plan.linear({ { "k", L.c // L.g }, { "c", 1 } }, 0),
    Y_INDEX = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0),
    OPS = {},
  }
  for _, op in ipairs(L.ops) do V.OPS[op] = true end
  V.RELU, V.MOMENTUM = L.relu, L.momentum
  -- The parameters of function 'fn' from 'from' up to 'to' (signature.lua), as
  -- NAME.c defines them (restrict) and as NAME.h declares them; the arguments
  -- that pass them on.
  V.PARAMS = function(fn, from, to) return signature.params(L, fn, true, from, to) end
  V.DECL = function(fn, from, to) return signature.params(L, fn, false, from, to) end
  V.ARGS = function(fn) return signature.args(L, fn) end
  V.HEAD = function(fn, part) return signature.head(L, fn, part) end
  -- Return the C expression of dY at 'index' of pointer 'ptr': with a fused ReLU
  -- and 'yptr' (the same offset into Y), dL/dZ, which is dY where Y > 0.
  V.DY = function(ptr, index, yptr)
    if L.relu and yptr then
      return string.format("%s_dz(%s[%s], %s[%s])", L.name, yptr, index, ptr, index)
    end
    return string.format("%s[%s]", ptr, index)
  end
  -- Return the sum of the C values 'names', added in pairs ((a + b) + (c + d)),
  -- so that no add waits on all the others.
  local function pairwise(names, i, j, nested)
    if i == j then return names[i] end
    local mid = (i + j) // 2
    local sum = pairwise(names, i, mid, true) .. " + " .. pairwise(names, mid + 1, j, true)
    return nested and "(" .. sum .. ")" or sum
  end
  V.PAIRWISE = function(names) return pairwise(names, 1, #names, false) end
  -- Return forward's output from its sum 'z': max(0, z) with a fused ReLU.
  V.ACT = function(z) return L.relu and string.format("%s_RELU(%s)", L.name, z) or z end

  local code = { stack_limit = L.stack_limit, workspace = L.workspace }
  local function schedule(op) return targets.schedule(L.target, L.dtype, L.schedule[op], code) end
  V.S = schedule()
  -- The scalar schedule: for targets without vectors, and for channels-last
  -- tensors, which the vector plans do not read.
  V.DIRECT = scalar or V.S.direct or L.layout == "nhwc" or L.optimize == "size"
  local fm, gim, gwm
  if V.DIRECT then
    V.D = { forward = direct.forward(L, V, schedule("forward")),
            grad_input = direct.grad_input(L, V, schedule("grad_input")),
            grad_weight = direct.grad_weight(L, V, schedule("grad_weight")),
            grad_bias = direct.grad_bias(L, V, schedule("grad_bias")) }
    fm, gim, gwm = V.D.forward.MACS, V.D.grad_input.MACS, V.D.grad_weight.MACS
    V.SIZE = L.optimize == "size"
    if V.SIZE then V.Z = direct.size_plan(L, V) end
  else
    V.F = gather.forward(L, V, schedule("forward"))
    V.GI = gather.grad_input(L, V, schedule("grad_input"))
    V.GW = grad_weight.plan(L, V, schedule("grad_weight"))
    V.LANES = schedule("grad_bias").bias_lanes
    V.OHOW_MAIN = V.OHOW - V.OHOW % V.LANES
    -- Cost per call, counted from the multiply-adds the plans emit, times the
    -- loops around them.
    fm = L.n * L.k * V.CG * V.F.MACS // V.F.NB
    gim = L.n * L.c * V.KG * V.GI.MACS // V.GI.NB
    gwm = L.k * V.CG * L.n * V.GW.MACS
  end
  -- sgd_update: grad_weight's and grad_bias's sums, then per weight and bias
  -- element v = momentum v + d (1 mul, 1 add) and W - lr v (1 mul, 1 add).
  local step = (V.WEIGHT_SIZE + L.k) * (L.momentum and 2 or 1)
  local costs = {
    forward = string.format("forward %d mul %d add", fm, fm),
    grad_weight = string.format("grad_weight %d mul %d add", gwm, gwm),
    grad_input = string.format("grad_input %d mul %d add", gim, gim),
    grad_bias = string.format("grad_bias %d add", V.OUTPUT_SIZE),
    sgd_update = string.format("sgd_update %d mul %d add", gwm + step, gwm + V.OUTPUT_SIZE + step),
  }
  V.COST_LINES, V.TEMPLATE_LIST = {}, {}
  local seen = {}
  for _, op in ipairs(L.ops) do
    V.COST_LINES[#V.COST_LINES + 1] = costs[op]
    for _, part in ipairs(op == "sgd_update" and { "grad_weight", "grad_bias" } or { op }) do
      local name = V.SIZE and part ~= "grad_bias" and "direct_size.c.in" or V.DIRECT and "direct.c.in"
        or TEMPLATE_OF[part]
      if not seen[name] then
        seen[name] = true
        V.TEMPLATE_LIST[#V.TEMPLATE_LIST + 1] = name
      end
    end
  end
  if V.OPS.sgd_update then V.TEMPLATE_LIST[#V.TEMPLATE_LIST + 1] = "sgd_update.c.in" end
  V.TEMPLATES = table.concat(V.TEMPLATE_LIST, " ")
  return V
end

-- Place the arrays each op keeps in the caller's workspace (--workspace): the
-- copies and lane sums that would be local arrays, each at an offset (in
-- elements) that is a multiple of the target's alignment.  Sets GW.WS and
-- returns the bytes each op needs; the ops share one workspace.
local function workspace(V)
  local S, GW = V.S, V.GW
  local step = S.align // S.size
  local function round(e) return (e + step - 1) // step * step end
  GW.WS = {}
  local used = 0
  for _, a in ipairs({ { "xv", GW.VIEW and GW.VIEW.size }, { "dyv", GW.DYV and GW.DYV.size },
                       { "part", GW.PART_ROWS * GW.LANES } }) do
    if a[2] then
      GW.WS[a[1]] = used
      used = round(used + a[2])
    end
  end
  return { forward = (V.F.BUFFER or 0) * S.size, grad_input = (V.GI.BUFFER or 0) * S.size,
           grad_weight = used * S.size, grad_bias = 0, sgd_update = used * S.size }
end

-- Call fn on every group of gather plan P, band by band where it has bands.
local function each_group(P, fn)
  for _, band in ipairs(P.BANDS or { { groups = P.GROUPS } }) do
    for _, g in ipairs(band.groups) do fn(g) end
  end
end

-- Return the bytes of the local arrays of each op's function, from its plan: an
-- upper bound on what its arrays take of the stack (arrays of sibling blocks are
-- added up); scalars, which live in registers or spill, are not counted.  With a
-- workspace, the copies and lane sums live there instead.
local function stack_bytes(V)
  local size = V.S.size
  -- The lane arrays a rolling group carries, in every pass over the source channels.
  local function gather(P)
    local carried = 0
    each_group(P, function(g)
      if g.roll then carried = carried + #g.carried * g.lanes end
    end)
    return ((V.WORKSPACE and 0 or P.BUFFER or 0) + (P.SECOND_PASS and 2 or 1) * carried) * size
  end
  local GW = V.GW
  local gw = V.WORKSPACE and 0
    or (GW.VIEW and GW.VIEW.size or 0) + (GW.DYV and GW.DYV.size or 0) + GW.PART_ROWS * GW.LANES
  for _, grp in ipairs(GW.TGROUPS) do
    gw = gw + #grp.accs * GW.LANES
    for _, g in ipairs(grp.blocks) do
      if g.roll then gw = gw + #g.carried * GW.LANES end
    end
  end
  return { forward = gather(V.F), grad_input = gather(V.GI), grad_weight = gw * size,
           grad_bias = V.LANES * size }
end

-- Return the bytes each op's frame may take beyond its local arrays: the
-- target's base (saved registers, alignment) plus, should the compiler spill
-- every value the plan keeps live, a slot for each: the weights a gather
-- hoists (one vector each, broadcast) and its largest group's lane sums; the
-- taps of a grad_weight group.  Checked against -fstack-usage in test_layers.
local function spill_bytes(V)
  local S = V.S
  local vec = math.max(1, S.lanes) * S.size
  local function gather(P)
    local accs = 0
    each_group(P, function(g) accs = math.max(accs, #g.accs * g.lanes) end)
    return S.frame + #P.WEIGHTS * vec + accs * S.size
  end
  return { forward = gather(V.F), grad_input = gather(V.GI),
           grad_weight = S.frame + 2 * V.GW.TG * vec, grad_bias = S.frame }
end

-- Return the bytes of local arrays and the other bytes each op's frame may take,
-- and, when one of them exceeds the stack limit, a message that says so.
local function frames(V, L)
  local arrays, spills = {}, {}
  if V.DIRECT then
    for op, P in pairs(V.D) do
      arrays[op], spills[op] = 0, direct.frame(V.S, P.LIVE)
    end
  else
    arrays, spills = stack_bytes(V), spill_bytes(V)
  end
  -- sgd_update runs grad_weight's sums, then grad_bias's: its frame holds, at
  -- most, both of theirs.
  arrays.sgd_update = arrays.grad_weight + arrays.grad_bias + sgd.tile_elements(V) * V.S.size
  spills.sgd_update = spills.grad_weight + spills.grad_bias
  for _, op in ipairs(L.ops) do
    if arrays[op] + spills[op] > V.S.stack_limit then
      return arrays, spills, string.format("--stack-limit %d: %s's frame may take up to %d bytes "
        .. "with any schedule of target %s (%d of local arrays, %d for registers and spills); give a larger limit",
        V.S.stack_limit, op, arrays[op] + spills[op], L.target, arrays[op], spills[op])
    end
  end
  return arrays, spills, nil
end

-- Return the schedule choices 'convgen tune' times for layer 'L'.
function convgen.candidates(L)
  return targets.candidates(L.target, L.dtype)
end

-- Return the texts of NAME.h and NAME.c for layer 'L' and what they were
-- rendered from (the template names V, with the plans, and each op's frame
-- and workspace bytes); or nil and why the layer cannot be had.  'texts' maps
-- each template's file name to its text.
local function build(L, texts)
  -- Fix the op order so that '--ops grad_bias,forward' gives the same files
  -- as '--ops forward,grad_bias'.
  local asked = {}
  for _, op in ipairs(L.ops) do asked[op] = true end
  L.ops = {}
  for _, op in ipairs(OP_ORDER) do
    if asked[op] then L.ops[#L.ops + 1] = op end
  end
  local V = template_vars(L, false)
  local arrays, spills, over = frames(V, L)
  if over and not V.DIRECT then
    -- The vector plans' scratch does not fit the limit: the scalar schedule needs none.
    V = template_vars(L, true)
    arrays, spills, over = frames(V, L)
  end
  if over then return nil, over end
  local function render(name, vars)
    return template.render(name, assert(texts[name], "missing template " .. name), vars or V)
  end
  -- Render sub-template 'name' with 'vars' (over 'parent', the names of the
  -- template that includes it, or V), without the last newline:
  -- the template line whose hole it fills ends it, and indents it (template.lua).
  local function sub(name, vars, parent)
    local text = render(name, setmetatable(vars, { __index = parent or V }))
    return (text:gsub("\n$", ""))
  end
  V.GATHER = function(groups, first, act)
    return sub("gather.c.in", { GROUPS = groups, FIRST = first, ACT_STORES = act })
  end
  V.BANDS = function(P, buf, src, out_w, first, act)
    return sub("bands.c.in", { P = P, BUF = buf, SRC = src, OUT_W = out_w, FIRST = first, ACT_STORES = act })
  end
  V.STEPS = function(steps) return sub("direct_steps.c.in", { STEPS = steps }) end
  V.LANE_LOOP = function(lane) return sub("grad_weight_lanes.c.in", { LANE = lane }) end
  local ws = V.DIRECT and { forward = 0, grad_weight = 0, grad_input = 0, grad_bias = 0, sgd_update = 0 }
    or workspace(V)
  V.WORKSPACE_BYTES, V.WORKSPACE_ALIGN = 0, V.S.align
  for _, op in ipairs(L.ops) do V.WORKSPACE_BYTES = math.max(V.WORKSPACE_BYTES, ws[op]) end
  -- A whole number of alignments, so an array that ends the workspace ends it
  -- exactly; at least one, so the caller's array of it is valid C when the code
  -- keeps nothing there.
  V.WORKSPACE_BYTES = math.max(1, (V.WORKSPACE_BYTES + V.S.align - 1) // V.S.align) * V.S.align
  local h = render("header.h.in")
  -- Render the function of op (forward, grad_weight, grad_input or grad_bias)
  -- with 'vars' over V.
  local function body(op, vars)
    vars.OP = op
    vars.FN = vars.FN or op
    if V.SIZE and op ~= "grad_bias" then
      return render("direct_size.c.in", setmetatable(vars, { __index = V }))
    elseif V.DIRECT then
      vars.P = V.D[op]
      return render("direct.c.in", setmetatable(vars, { __index = V }))
    end
    vars.P = PLAN_OF[op] and V[PLAN_OF[op]]
    -- A tap group sees its function's names: TILE and STORE end its sums.
    vars.TAP_GROUP = function(grp) return sub("grad_weight_group.c.in", { grp = grp }, vars) end
    return render(TEMPLATE_OF[op], setmetatable(vars, { __index = V }))
  end
  local bodies, stack = {}, {}
  for _, op in ipairs(L.ops) do
    if op == "sgd_update" then
      local step = sgd.step(L, V)
      bodies[#bodies + 1] = body("grad_weight", step.weight)
      bodies[#bodies + 1] = body("grad_bias", step.bias)
      bodies[#bodies + 1] = render("sgd_update.c.in")
    else
      bodies[#bodies + 1] = body(op, sgd.sums(L, V, op))
    end
    stack[#stack + 1] = string.format("%s %d", op, arrays[op] + spills[op])
  end
  V.STACK_LINE = table.concat(stack, ", ")
  local c = { render("source.c.in") }
  for _, body in ipairs(bodies) do c[#c + 1] = body end
  c[#c + 1] = "\n/* end of " .. L.name .. ".c */\n"
  return h, table.concat(c), { V = V, arrays = arrays, spills = spills, workspace = ws }
end

-- Return the texts of NAME.h and NAME.c for layer 'L'; 'texts' maps each
-- template's file name to its text.
function convgen.generate(L, texts)
  local h, c = build(L, texts)
  return h, c
end

-- For the property tests (tests/test_plans.c) alone: generate's two texts and
-- the plans they were rendered from, which tests/plans/check.lua walks.
function convgen.plans(L, texts)
  return build(L, texts)
end

return convgen
