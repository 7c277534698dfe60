-- sgd.lua: the ends of grad_weight's and grad_bias's sums.  On their own the
-- ops store each sum; sgd_update renders the same two functions, static, with
-- one SGD step (torch.optim.SGD, dampening 0, no weight decay) in place of each
-- store, so each element of dL/dW is used as soon as it is summed and no
-- dL/dW array exists.  templates/sgd_update.c.in calls the two.

local sgd = {}

-- Return the C statement that ends the sum 'value' of element 'index' of
-- 'param' (weight or bias), whose velocity is 'velocity': param -= lr d, or
-- with momentum v = momentum v + d, param -= lr v.
local function step_text(L, param, velocity, index, value)
  if not value:match("^[%w_]+$") then value = "(" .. value .. ")" end
  if not L.momentum then
    return string.format("%s[%s] -= lr * %s;", param, index, value)
  end
  return string.format("{ const %s vel = momentum * %s[%s] + %s; %s[%s] = vel; %s[%s] -= lr * vel; }",
    L.dtype, velocity, index, value, velocity, index, param, index)
end

-- Return the render names of op's own function: its head (FN, PARAMS) and
-- STORE(index, value), the statement that ends a sum.
function sgd.sums(L, V, op)
  local T = L.dtype
  if op == "grad_weight" then
    return { FN = "void " .. L.name .. "_grad_weight",
      PARAMS = string.format("const %s *restrict input, %sconst %s *restrict grad_output, %s *restrict grad_weight%s",
                             T, V.Y_PARAM, T, T, V.WS_PARAM),
      STORE = function(index, value) return string.format("grad_weight[%s] = %s;", index, value) end }
  elseif op == "grad_bias" then
    return { FN = "void " .. L.name .. "_grad_bias",
      PARAMS = string.format("%sconst %s *restrict grad_output, %s *restrict grad_bias%s", V.Y_PARAM, T, T, V.WS_PARAM),
      STORE = function(index, value) return string.format("grad_bias[%s] = %s;", index, value) end }
  end
  return {}
end

-- Return the elements of sgd_update's tile of dW (0: none, each sum takes its
-- step where it ends): a chunk of whole rows, where the vector schedule sums
-- every tap of a row in one pass.
function sgd.tile_elements(V)
  if V.DIRECT or V.GW.TLOOP then return 0 end
  return V.GW.KC * V.K1K2
end

-- Return sgd_update's parts: the render names of its weight and bias functions
-- (grad_weight's and grad_bias's with the step as their store) and the text of
-- the function that calls them.
function sgd.step(L, V)
  local T, name = L.dtype, L.name
  local scalars = L.momentum and string.format("%s lr, %s momentum", T, T) or string.format("%s lr", T)
  local function velocity(v) return L.momentum and string.format("%s *restrict %s, ", T, v) or "" end
  local weight = {
    -- The vector schedule's sums end in a transpose the compiler vectorizes; a
    -- step there would be scalar.  They fill a tile of whole rows of dW instead
    -- (one chunk of output channels), and the step runs along the rows.
    TILE = sgd.tile_elements(V) > 0,
    FN = name .. "_PART void " .. name .. "_sgd_weight",
    PARAMS = string.format("const %s *restrict input, %sconst %s *restrict grad_output, %s *restrict weight, %s%s%s",
                           T, V.Y_PARAM, T, T, velocity("velocity_w"), scalars, V.WS_PARAM),
    STORE = function(index, value) return step_text(L, "weight", "velocity_w", index, value) end,
  }
  local bias = {
    FN = name .. "_PART void " .. name .. "_sgd_bias",
    PARAMS = string.format("%sconst %s *restrict grad_output, %s *restrict bias, %s%s%s",
                           V.Y_PARAM, T, T, velocity("velocity_b"), scalars, V.WS_PARAM),
    STORE = function(index, value) return step_text(L, "bias", "velocity_b", index, value) end,
  }
  return { weight = weight, bias = bias }
end

return sgd
