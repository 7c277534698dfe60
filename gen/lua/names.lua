-- names.lua: the names every template sees for one layer, whatever its schedule:
-- the layer's numbers in docs/math.md's letters, the C expressions and comment
-- formulas that follow from them alone, and the helpers that print a read of
-- dY, forward's activation, a sum and a function's parameters.

local plan = require "plan"
local signature = require "signature"

local names = {}

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
-- one order (L.options, written by gen/layer/layer.c), with '-o .' (the
-- file's own directory).
local function command(L)
  return string.format("convgen generate %s --ops %s --name %s -o .",
    L.options, table.concat(L.ops, ","), L.name)
end

-- Return the sum of the C values names[i..j], added in pairs ((a + b) + (c + d)),
-- so that no add waits on all the others; 'nested' parenthesizes it.
local function pairwise(list, i, j, nested)
  if i == j then return list[i] end
  local mid = (i + j) // 2
  local sum = pairwise(list, i, mid, true) .. " + " .. pairwise(list, mid + 1, j, true)
  return nested and "(" .. sum .. ")" or sum
end

-- Return the names of layer 'L' (its ops in their fixed order).
function names.of(L)
  local cg, kg = L.c // L.g, L.k // L.g
  local V = {
    VERSION = L.version, NAME = L.name, T = L.dtype, TARGET = L.target,
    N = L.n, C = L.c, K = L.k, G = L.g, H = L.h, W = L.w, K1 = L.k1, K2 = L.k2,
    SH = L.sh, SW = L.sw, PH = L.ph, PW = L.pw, DH = L.dh, DW = L.dw, OH = L.oh, OW = L.ow,
    EH = L.eh, EW = L.ew, NHWC = L.layout == "nhwc",
    WORKSPACE = L.workspace, RELU = L.relu, MOMENTUM = L.momentum,
    CG = cg, KG = kg,
    HW = L.h * L.w, OHOW = L.oh * L.ow, K1K2 = L.k1 * L.k2,
    INPUT_SIZE = L.n * L.c * L.h * L.w,
    WEIGHT_SIZE = L.k * cg * L.k1 * L.k2,
    OUTPUT_SIZE = L.n * L.k * L.oh * L.ow,
    GUARD = "CONVGEN_" .. L.name .. "_H",
    COMMAND = command(L),
    LAYER_ID = layer_id(command(L)),
    IN_CHANNEL_C = plan.linear({ { "n", L.c }, { "c", 1 } }, 0),
    GROUP_CHANNEL = L.g == 1 and "c" or plan.group_channel(kg, cg),
    -- The comments' formulas: the input row and column that output (i, j) reads
    -- for tap (m, q); input channel c of group g; dI's rows and columns by phase.
    ROW_OF = plan.formula({ { "i", L.sh }, { "m", L.dh } }, -L.ph),
    COL_OF = plan.formula({ { "j", L.sw }, { "q", L.dw } }, -L.pw),
    CHANNEL_OF = plan.formula({ { "g", cg }, { "c", 1 } }, 0),
    PHASE_ROW = plan.formula({ { "u", L.sh }, { "r", 1 } }, 0),
    PHASE_COL = plan.formula({ { "v", L.sw }, { "s", 1 } }, 0),
    OUT_PLANE = plan.linear({ { "n", L.k }, { "k", 1 } }, 0),
    OPS = {},
  }
  -- The output channels of input channel c's group: FIRST_K up to LAST_K.
  V.FIRST_K, V.LAST_K = plan.group_outputs(L)
  for _, op in ipairs(L.ops) do V.OPS[op] = true end
  -- The parameters of function 'fn' from 'from' up to 'to' (signature.lua), as
  -- NAME.c defines them (restrict) and as NAME.h declares them; the arguments
  -- that pass them on; the head of its definition.
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
  V.PAIRWISE = function(list) return pairwise(list, 1, #list, false) end
  -- Return forward's output from its sum 'z': max(0, z) with a fused ReLU.
  V.ACT = function(z) return L.relu and string.format("%s_RELU(%s)", L.name, z) or z end
  return V
end

return names
