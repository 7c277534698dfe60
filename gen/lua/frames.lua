-- frames.lua: what each generated function takes of the stack and of the
-- caller's workspace, read from its plan (not from the emitted text), so the
-- header's bounds and the --stack-limit check stay true when the code changes.
-- 'plans' maps each op to its plan; 'direct' says they are the scalar
-- schedule's (direct.lua), else the vector schedule's (gather.lua,
-- grad_weight.lua, grad_bias.lua).

local direct = require "direct"
local sgd = require "sgd"

local frames = {}

-- Place the arrays each op keeps in the caller's workspace (--workspace): the
-- copies and lane sums that would be local arrays, each at an offset (in
-- elements) that is a multiple of the target's alignment.  Sets GW.WS and
-- returns the bytes each op needs; the ops share one workspace.
function frames.workspace(S, plans, is_direct)
  if is_direct then
    return { forward = 0, grad_weight = 0, grad_input = 0, grad_bias = 0, sgd_update = 0 }
  end
  local GW = plans.grad_weight
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
  return { forward = (plans.forward.BUFFER or 0) * S.size, grad_input = (plans.grad_input.BUFFER or 0) * S.size,
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
local function stack_bytes(S, plans, workspace)
  -- The lane arrays a rolling group carries, in every pass over the source channels.
  local function gather(P)
    local carried = 0
    each_group(P, function(g)
      if g.roll then carried = carried + #g.carried * g.lanes end
    end)
    return ((workspace and 0 or P.BUFFER or 0) + (P.SECOND_PASS and 2 or 1) * carried) * S.size
  end
  local GW = plans.grad_weight
  local gw = workspace and 0
    or (GW.VIEW and GW.VIEW.size or 0) + (GW.DYV and GW.DYV.size or 0) + GW.PART_ROWS * GW.LANES
  for _, grp in ipairs(GW.TGROUPS) do
    gw = gw + #grp.accs * GW.LANES
    for _, g in ipairs(grp.blocks) do
      if g.roll then gw = gw + #g.carried * GW.LANES end
    end
  end
  return { forward = gather(plans.forward), grad_input = gather(plans.grad_input), grad_weight = gw * S.size,
           grad_bias = plans.grad_bias.LANES * S.size }
end

-- Return the bytes each op's frame may take beyond its local arrays: the
-- target's base (saved registers, alignment) plus, should the compiler spill
-- every value the plan keeps live, a slot for each: the weights a gather
-- hoists (one vector each, broadcast) and its largest group's lane sums; the
-- taps of a grad_weight group.  Checked against -fstack-usage in test_layers.
local function spill_bytes(S, plans)
  local vec = math.max(1, S.lanes) * S.size
  local function gather(P)
    local accs = 0
    each_group(P, function(g) accs = math.max(accs, #g.accs * g.lanes) end)
    return S.frame + #P.WEIGHTS * vec + accs * S.size
  end
  return { forward = gather(plans.forward), grad_input = gather(plans.grad_input),
           grad_weight = S.frame + 2 * plans.grad_weight.TG * vec, grad_bias = S.frame }
end

-- Return the bytes of local arrays and the other bytes each op's frame may take
-- under schedule S, and, when one of them exceeds the stack limit, a message
-- that says so.
function frames.of(L, S, plans, is_direct)
  local arrays, spills = {}, {}
  if is_direct then
    for op, P in pairs(plans) do
      arrays[op], spills[op] = 0, direct.frame(S, P.LIVE)
    end
  else
    arrays, spills = stack_bytes(S, plans, L.workspace), spill_bytes(S, plans)
  end
  -- sgd_update runs grad_weight's sums, then grad_bias's: its frame holds, at
  -- most, both of theirs.
  arrays.sgd_update = arrays.grad_weight + arrays.grad_bias
    + sgd.tile_elements(plans.grad_weight, is_direct) * S.size
  spills.sgd_update = spills.grad_weight + spills.grad_bias
  for _, op in ipairs(L.ops) do
    if arrays[op] + spills[op] > S.stack_limit then
      return arrays, spills, string.format("--stack-limit %d: %s's frame may take up to %d bytes "
        .. "with any schedule of target %s (%d of local arrays, %d for registers and spills); give a larger limit",
        S.stack_limit, op, arrays[op] + spills[op], L.target, arrays[op], spills[op])
    end
  end
  return arrays, spills, nil
end

return frames
