-- signature.lua: the parameters of every function a generated file defines or
-- declares, in one place, so that a prototype in NAME.h, its definition in
-- NAME.c and each call of it cannot disagree.  The templates lay the lines out.

local signature = {}

-- Return the parameters of function 'fn' (an op, or one of sgd_update's two
-- parts, sgd_weight and sgd_bias) of layer 'L', in order: { name, const,
-- scalar, void }.  With a fused ReLU the gradients take forward's output Y
-- beside dY; with --workspace every function takes the caller's scratch last.
local function params(L, fn)
  local list = {}
  local function add(name, const, kind)
    list[#list + 1] = { name = name, const = const, scalar = kind == "scalar", void = kind == "void" }
  end
  local function y_dy()
    if L.relu then add("output", true) end
    add("grad_output", true)
  end
  local function step(velocity)
    if L.momentum and velocity then add(velocity) end
    add("lr", false, "scalar")
    if L.momentum then add("momentum", false, "scalar") end
  end
  if fn == "forward" then
    add("input", true); add("weight", true); add("bias", true); add("output")
  elseif fn == "grad_weight" then
    add("input", true); y_dy(); add("grad_weight")
  elseif fn == "grad_input" then
    add("weight", true); y_dy(); add("grad_input")
  elseif fn == "grad_bias" then
    y_dy(); add("grad_bias")
  elseif fn == "sgd_weight" then
    add("input", true); y_dy(); add("weight"); step("velocity_w")
  elseif fn == "sgd_bias" then
    y_dy(); add("bias"); step("velocity_b")
  elseif fn == "sgd_update" then
    add("input", true); y_dy(); add("weight"); add("bias")
    if L.momentum then add("velocity_w"); add("velocity_b") end
    step()
  else
    error("no function " .. tostring(fn))
  end
  if L.workspace then add("workspace", false, "void") end
  return list
end

-- Return the text of the parameters of 'fn' from the one named 'from' up to,
-- not including, the one named 'to' (nil: from the first; to the end; a name
-- the list lacks: the end too), with 'restrict' pointers (NAME.c: the header
-- must compile as C++, and a qualifier does not change the function's type).
function signature.params(L, fn, restrict, from, to)
  local parts, on = {}, from == nil
  for _, p in ipairs(params(L, fn)) do
    if p.name == from then on = true end
    if p.name == to then break end
    if on then
      local text
      if p.void then
        text = "void *" .. p.name
      elseif p.scalar then
        text = L.dtype .. " " .. p.name
      else
        text = (p.const and "const " or "") .. L.dtype .. (restrict and " *restrict " or " *") .. p.name
      end
      parts[#parts + 1] = text
    end
  end
  return table.concat(parts, ", ")
end

-- Return the head of the definition of 'fn' in NAME.c, on one line; a 'part'
-- of sgd_update is static (NAME_PART).
function signature.head(L, fn, part)
  return string.format("%svoid %s_%s(%s)", part and L.name .. "_PART " or "", L.name, fn,
                       signature.params(L, fn, true))
end

-- Return the arguments that pass the parameters of 'fn' on, by their names.
function signature.args(L, fn)
  local names = {}
  for _, p in ipairs(params(L, fn)) do names[#names + 1] = p.name end
  return table.concat(names, ", ")
end

return signature
