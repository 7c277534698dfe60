-- template.lua: render templates/*.in, C text with Lua lines.
-- A line whose first non-blank character is '$' (not '${') is Lua; '$--' is a comment;
-- '${expr}' elsewhere is replaced by the value of expr.  A hole alone on its
-- line indents every line of its value as far as the hole stands, so a
-- sub-template rendered into it lands at the depth of the code around it.
-- Each template line becomes exactly one Lua line, so an error names the
-- template's own line.

local template = {}

-- Return the Lua source that emits one text line, with ${} holes filled.
local function text_line(line)
  local parts, holes = {}, 0
  local pos = 1
  while true do
    local s, e = line:find("${", pos, true)
    if not s then break end
    local depth, k = 1, e + 1
    while k <= #line and depth > 0 do
      local ch = line:sub(k, k)
      if ch == "{" then depth = depth + 1 elseif ch == "}" then depth = depth - 1 end
      k = k + 1
    end
    assert(depth == 0, "unclosed ${ in template line: " .. line)
    if s > pos then parts[#parts + 1] = string.format("%q", line:sub(pos, s - 1)) end
    parts[#parts + 1] = "_str(" .. line:sub(e + 1, k - 2) .. ")"
    holes = holes + 1
    pos = k
  end
  local pad = line:match("^%s*")
  if holes == 1 and pos > #line and line:sub(#pad + 1, #pad + 2) == "${" then
    return string.format("_out[#_out+1]=_indented(%q, %s)", pad, parts[#parts]:sub(6, -2))
  end
  parts[#parts + 1] = string.format("%q", line:sub(pos) .. "\n")
  return "_out[#_out+1]=" .. table.concat(parts, "..")
end

-- Translate template text into a Lua chunk, one line for one line.
function template.compile(text)
  local lua = {}
  for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("(.-)\n") do
    -- '${T} *y' opens a text line with a hole: only '$' not followed by '{' starts Lua.
    local code = line:match("^%s*%$(.*)$")
    if code and code:sub(1, 1) ~= "{" then
      lua[#lua + 1] = code:match("^%-%-") and "" or code
    else
      lua[#lua + 1] = text_line(line)
    end
  end
  return table.concat(lua, "\n")
end

-- Return 'v' as template text; nil is a generator bug, not an empty string.
-- 'level' 2 blames the template line that substituted it.
local function to_text(v, level)
  if v == nil then error("template substituted nil", level or 2) end
  if math.type(v) == "float" then error("template substituted a float: " .. tostring(v), level or 2) end
  return tostring(v)
end

-- Return 'v' as template text with every line after the first indented by
-- 'pad' (empty lines stay empty), then 'pad' before it and a newline after.
local function indented(pad, v)
  local text = to_text(v, 3)
  if pad ~= "" then text = text:gsub("\n([^\n])", "\n" .. pad .. "%1") end
  return pad .. text .. "\n"
end

-- Each template's chunk, loaded once per Lua state and called with its
-- environment: a sub-template is rendered once per block or sum it prints.
-- The environment comes in on the first line, so line numbers stay the
-- template's own.
local chunks = {}

local function chunk_of(name, text)
  local c = chunks[name]
  if c and c.text == text then return c.fn end
  local fn, err = load("local _ENV = ...; " .. template.compile(text), "@templates/" .. name, "t")
  if not fn then error(err, 0) end
  chunks[name] = { text = text, fn = fn }
  return fn
end

-- Render template 'name' (its text is 'text') with the names in 'vars'.
function template.render(name, text, vars)
  local out = {}
  local env = setmetatable({
    _out = out,
    _str = to_text,
    _indented = indented,
    -- Raise at the template line that asserted, as a compiler would.
    assert = function(ok, msg)
      if not ok then error(msg or "assertion failed", 2) end
      return ok
    end,
  }, { __index = function(_, key)
    local v = vars[key]
    if v == nil then v = _ENV[key] end
    return v
  end })
  chunk_of(name, text)(env)
  return table.concat(out)
end

return template
