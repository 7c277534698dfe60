-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.  The steps: the
-- layer's names (names.lua), the schedule, each op's plan (direct.lua,
-- gather.lua, grad_weight.lua, grad_bias.lua), its frame (frames.lua), its
-- cost, the list of templates, then the rendering.

local direct = require "direct"
local frames = require "frames"
local gather = require "gather"
local grad_bias = require "grad_bias"
local grad_weight = require "grad_weight"
local names = require "names"
local sgd = require "sgd"
local targets = require "targets"
local template = require "template"

local convgen = {}

local OP_ORDER = { "forward", "grad_weight", "grad_input", "grad_bias", "sgd_update" }
-- The template of each op's function under the vector schedule.
local TEMPLATE_OF = { forward = "gather_op.c.in", grad_weight = "grad_weight.c.in",
                      grad_input = "gather_op.c.in", grad_bias = "grad_bias.c.in" }

-- Return the schedule of layer 'L': S, the target's schedule facts (targets.lua)
-- with the model's own choices; of(op), the same with op's choices (--schedule);
-- direct, whether the ops take the scalar schedule ('scalar' asks for it); size,
-- whether --optimize size prints its loop nests instead.
local function choose_schedule(L, scalar)
  local code = { stack_limit = L.stack_limit, workspace = L.workspace }
  local function of(op) return targets.schedule(L.target, L.dtype, op and L.schedule[op], code) end
  local S = of()
  -- The scalar schedule: for targets without vectors, and for channels-last
  -- tensors, which the vector plans do not read.
  local is_direct = scalar or S.direct or L.layout == "nhwc" or L.optimize == "size"
  return { S = S, of = of, direct = is_direct, size = L.optimize == "size" }
end

-- Return the plan of each op of layer 'L' under schedule 'sched'.
local function make_plans(L, sched)
  local of = sched.of
  if sched.direct then
    return { forward = direct.forward(L, of("forward")), grad_input = direct.grad_input(L, of("grad_input")),
             grad_weight = direct.grad_weight(L, of("grad_weight")), grad_bias = direct.grad_bias(L, of("grad_bias")) }
  end
  return { forward = gather.forward(L, of("forward")), grad_input = gather.grad_input(L, of("grad_input")),
           grad_weight = grad_weight.plan(L, of("grad_weight")), grad_bias = grad_bias.plan(L, of("grad_bias")) }
end

-- Return the header's cost line of each op: the multiply-adds each plan
-- counts in a call (CALL_MACS), grad_bias's adds and sgd_update's steps.
local function costs(L, plans)
  local cg = L.c // L.g
  local fm, gim, gwm = plans.forward.CALL_MACS, plans.grad_input.CALL_MACS, plans.grad_weight.CALL_MACS
  local outputs = L.n * L.k * L.oh * L.ow
  -- sgd_update: grad_weight's and grad_bias's sums, then per weight and bias
  -- element v = momentum v + d (1 mul, 1 add) and W - lr v (1 mul, 1 add).
  local step = (L.k * cg * L.k1 * L.k2 + L.k) * (L.momentum and 2 or 1)
  return {
    forward = string.format("forward %d mul %d add", fm, fm),
    grad_weight = string.format("grad_weight %d mul %d add", gwm, gwm),
    grad_input = string.format("grad_input %d mul %d add", gim, gim),
    grad_bias = string.format("grad_bias %d add", outputs),
    sgd_update = string.format("sgd_update %d mul %d add", gwm + step, gwm + outputs + step),
  }
end

-- Return the template of op's function under the scalar schedule ('is_direct')
-- or the vector one, and under --optimize size ('size').
local function template_of(op, is_direct, size)
  if size and op ~= "grad_bias" then return "direct_size.c.in" end
  return is_direct and "direct.c.in" or TEMPLATE_OF[op]
end

-- Return the templates the ops of layer 'L' render, in order, each once.
local function template_list(L, sched)
  local list, seen = {}, {}
  for _, op in ipairs(L.ops) do
    for _, part in ipairs(op == "sgd_update" and { "grad_weight", "grad_bias" } or { op }) do
      local name = template_of(part, sched.direct, sched.size)
      if not seen[name] then
        seen[name] = true
        list[#list + 1] = name
      end
    end
  end
  -- sgd_update's own function follows the two it calls.
  if L.ops[#L.ops] == "sgd_update" then list[#list + 1] = "sgd_update.c.in" end
  return list
end

-- Return the names every template sees: the layer's (names.lua), the schedule,
-- each op's plan (V.plan[op]; V.size_plan under --optimize size), the cost
-- lines and the templates.
local function template_vars(L, scalar)
  local V = names.of(L)
  local sched = choose_schedule(L, scalar)
  V.S, V.DIRECT, V.SIZE = sched.S, sched.direct, sched.size
  V.plan = make_plans(L, sched)
  if sched.size then V.size_plan = direct.size_plan(L) end
  local cost = costs(L, V.plan)
  V.COST_LINES = {}
  for _, op in ipairs(L.ops) do V.COST_LINES[#V.COST_LINES + 1] = cost[op] end
  V.TEMPLATE_LIST = template_list(L, sched)
  V.TEMPLATES = table.concat(V.TEMPLATE_LIST, " ")
  return V
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
  local arrays, spills, over = frames.of(L, V.S, V.plan, V.DIRECT)
  if over and not V.DIRECT then
    -- The vector plans' scratch does not fit the limit: the scalar schedule needs none.
    V = template_vars(L, true)
    arrays, spills, over = frames.of(L, V.S, V.plan, V.DIRECT)
  end
  if over then return nil, over end
  local function render(name, vars)
    return template.render(name, assert(texts[name], "missing template " .. name), vars or V)
  end
  -- Render sub-template 'name' with 'vars' (over 'parent', the names of the
  -- template that includes it, or V), without the last newline:
  -- the template line whose hole it fills ends it, and indents it (template.lua).
  -- INCLUDE(part, more) in it renders a part that sees its names, and 'more'.
  local sub
  function sub(name, vars, parent)
    setmetatable(vars, { __index = parent or V })
    vars.INCLUDE = function(part, more) return sub(part, more or {}, vars) end
    local text = render(name, vars)
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
  local ws = frames.workspace(V.S, V.plan, V.DIRECT)
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
    vars.P = (V.SIZE and op ~= "grad_bias") and V.size_plan or V.plan[op]
    -- A part of the function (a sub-template) sees the function's names, such as
    -- TILE and STORE, which end its sums.
    vars.INCLUDE = function(part, more) return sub(part, more or {}, vars) end
    vars.TAP_GROUP = function(grp) return vars.INCLUDE("grad_weight_group.c.in", { grp = grp }) end
    -- STORE(index, value): the statement that ends the sum 'value' of element
    -- 'index', where vars.SUM_END says (sgd.lua); a step's operand is a name or
    -- in parentheses.
    vars.STORE = function(index, value)
      if vars.SUM_END.step and not value:match("^[%w_]+$") then value = "(" .. value .. ")" end
      return vars.INCLUDE("store.c.in", { END = vars.SUM_END, INDEX = index, VALUE = value })
    end
    return render(template_of(op, V.DIRECT, V.SIZE), setmetatable(vars, { __index = V }))
  end
  local bodies, stack = {}, {}
  for _, op in ipairs(L.ops) do
    if op == "sgd_update" then
      local step = sgd.step(sgd.tile_elements(V.plan.grad_weight, V.DIRECT))
      bodies[#bodies + 1] = body("grad_weight", step.weight)
      bodies[#bodies + 1] = body("grad_bias", step.bias)
      bodies[#bodies + 1] = render("sgd_update.c.in")
    else
      bodies[#bodies + 1] = body(op, sgd.sums(op))
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
