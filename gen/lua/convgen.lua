-- convgen.lua: turn one validated layer (from gen/lua_bridge.c) into the
-- text of NAME.h and NAME.c.  C has already refused every layer that makes
-- no sense, so an error raised here is a generator bug.

local plan = require "plan"
local template = require "template"

local convgen = {}

local OP_ORDER = { "forward", "grad_weight", "grad_input", "grad_bias" }

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
    IN_CHANNEL = in_channel_expr(L),
    GROUP_CHANNEL = L.g == 1 and "c" or string.format("k/%d*%d + c", L.k // L.g, L.c // L.g),
    OUT_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0),
    W_PLANE = plan.linear({ { "k", L.c // L.g }, { "c", 1 } }, 0),
    Y_INDEX = plan.linear({ { "i", L.ow }, { "j", 1 } }, 0),
    OPS = {},
  }
  for _, op in ipairs(L.ops) do V.OPS[op] = true end

  local blocks = plan.blocks(V)
  for _, b in ipairs(blocks) do
    for _, t in ipairs(b.taps) do
      t.x_index = plan.linear({ { "i", L.sh * L.w }, { "j", L.sw } }, t.offset)
      t.w_name = string.format("w_m%d_q%d", t.m, t.q)
      t.acc_name = string.format("dw_m%d_q%d", t.m, t.q)
    end
  end
  V.BLOCKS = blocks
  V.N_BLOCKS = #blocks
  V.TAPS = plan.used_taps(V, blocks)
  V.ALL_TAPS = {}
  local used = {}
  for _, t in ipairs(V.TAPS) do used[t.m * L.k2 + t.q] = t end
  for m = 0, L.k1 - 1 do
    for q = 0, L.k2 - 1 do
      local idx = m * L.k2 + q
      V.ALL_TAPS[#V.ALL_TAPS + 1] = {
        w_index = idx, used = used[idx] ~= nil,
        acc_name = string.format("dw_m%d_q%d", m, q),
      }
    end
  end
  for _, t in ipairs(V.TAPS) do t.w_index = t.m * L.k2 + t.q end

  -- Cost per call: every emitted multiply-add runs once per point of its block.
  local macs = L.n * L.k * V.CG * plan.plane_macs(blocks)
  local costs = {
    forward = string.format("forward %d mul %d add", macs, macs),
    grad_weight = string.format("grad_weight %d mul %d add", macs, macs),
    grad_input = string.format("grad_input %d mul %d add", macs, macs),
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
  local function render(name)
    return template.render(name, assert(texts[name], "missing template " .. name), V)
  end
  local h = render("header.h.in")
  local c = { render("source.c.in") }
  for _, op in ipairs(L.ops) do c[#c + 1] = render(op .. ".c.in") end
  c[#c + 1] = "\n/* end of " .. L.name .. ".c */\n"
  return h, table.concat(c)
end

return convgen
