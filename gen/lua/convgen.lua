-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.

local gather = require "gather"
local grad_weight = require "grad_weight"
local plan = require "plan"
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
  V.F = gather.forward(L, V, schedule("forward"))
  V.GI = gather.grad_input(L, V, schedule("grad_input"))
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
