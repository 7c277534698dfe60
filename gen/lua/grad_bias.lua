-- grad_bias.lua: the vector schedule's grad_bias plan.  Each output channel's
-- positions are summed in LANES lanes, a loop the compiler vectorizes into
-- independent adds; the positions past the last whole LANES go one by one.

local grad_bias = {}

-- Return the grad_bias plan of layer L under schedule S.
function grad_bias.plan(L, S)
  local count = L.oh * L.ow
  return { LANES = S.bias_lanes, OHOW_MAIN = count - count % S.bias_lanes }
end

return grad_bias
