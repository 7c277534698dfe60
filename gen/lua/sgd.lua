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

-- Return the render names of op's own function: STORE(index, value), the
-- statement that ends a sum.
function sgd.sums(op)
  if op == "grad_weight" or op == "grad_bias" then
    return { STORE = function(index, value) return string.format("%s[%s] = %s;", op, index, value) end }
  end
  return {}
end

-- Return the elements of sgd_update's tile of dW (0: none, each sum takes its
-- step where it ends): a chunk of whole rows, where the vector schedule sums
-- every tap of a row in one pass.  'gw' is grad_weight's plan, 'direct' says
-- whether it is the scalar schedule's.
function sgd.tile_elements(gw, direct)
  if direct or gw.TLOOP then return 0 end
  return gw.DWT.size
end

-- Return sgd_update's parts: the render names of its weight and bias functions,
-- grad_weight's and grad_bias's with the step as their store, static (PART) and
-- named FN; 'tile' is sgd.tile_elements's count.
function sgd.step(L, tile)
  local weight = {
    -- The vector schedule's sums end in a transpose the compiler vectorizes; a
    -- step there would be scalar.  They fill a tile of whole rows of dW instead
    -- (one chunk of output channels), and the step runs along the rows.
    TILE = tile > 0,
    FN = "sgd_weight", PART = true,
    STORE = function(index, value) return step_text(L, "weight", "velocity_w", index, value) end,
  }
  local bias = {
    FN = "sgd_bias", PART = true,
    STORE = function(index, value) return step_text(L, "bias", "velocity_b", index, value) end,
  }
  return { weight = weight, bias = bias }
end

return sgd
