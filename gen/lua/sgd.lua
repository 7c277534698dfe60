-- sgd.lua: the ends of grad_weight's and grad_bias's sums.  On their own the
-- ops store each sum; sgd_update renders the same two functions, static, with
-- one SGD step (torch.optim.SGD, dampening 0, no weight decay) in place of each
-- store, so each element of dL/dW is used as soon as it is summed and no
-- dL/dW array exists.  templates/store.c.in prints either end;
-- templates/sgd_update.c.in calls the two.

local sgd = {}

-- Return the render names of op's own function: SUM_END, where its sums go
-- (the op's own output array).
function sgd.sums(op)
  if op == "grad_weight" or op == "grad_bias" then
    return { SUM_END = { array = op } }
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
-- grad_weight's and grad_bias's with a step of the parameter (and, with
-- momentum, of its velocity) as their sums' end, static (PART) and named FN;
-- 'tile' is sgd.tile_elements's count.
function sgd.step(tile)
  local weight = {
    -- The vector schedule's sums end in a transpose the compiler vectorizes; a
    -- step there would be scalar.  They fill a tile of whole rows of dW instead
    -- (one chunk of output channels), and the step runs along the rows.
    TILE = tile > 0,
    FN = "sgd_weight", PART = true,
    SUM_END = { array = "weight", velocity = "velocity_w", step = true },
  }
  local bias = {
    FN = "sgd_bias", PART = true,
    SUM_END = { array = "bias", velocity = "velocity_b", step = true },
  }
  return { weight = weight, bias = bias }
end

return sgd
