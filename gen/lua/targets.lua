-- targets.lua: the target model.  What each machine that convgen generates for
-- is, in one place, and the schedule facts that follow from it for one element
-- type.  The planners (direct.lua, gather.lua, grad_weight.lua, rolling.lua)
-- read every machine fact from targets.schedule(); none is a literal there.
-- 'host' never reaches this file: gen/layer/layer.c (cg_target_host)
-- resolves it to one of these names when it parses --target.

local targets = {}

-- Facts per target (bytes unless said):
--   isa          what the vector unit is, for the file's header
--   vector       width of one vector register; 0: scalar floating point only
--   registers    vector (or, scalar, floating-point) registers of one element
--                type the compiler can allocate
--   fma          element types with a fused multiply-add instruction
--   cache        L1 data cache a loop's working set should stay within
--   stack        the stack one function's local arrays may take by default
--   copies       largest zero-padded copy of one plane (or band of rows) kept
--                on the stack; 0: no copies, border blocks everywhere
--   direct       the scalar schedule of direct.lua: no vector unit to shape for
--   unroll_taps  most taps the scalar schedule unrolls in one block: beyond, the
--                rows of taps are a loop (flash is small; nil: every tap unrolled)
--   frame        what a frame takes beyond its local arrays and spilled values,
--                at most (saved registers, alignment), as the target's gcc
--                reports it with -fstack-usage at -O2 and -Os over tests/layers.inc
--   direct_frame the same for the scalar schedule, whose frames hold no arrays
--   soft         element types the FPU does not hold (software floating point)
--   soft_frame   direct_frame for those: each value takes a pair of core
--                registers, and gcc stages the operands of the library calls
--                on the stack (grad_weight of a 5x5 layer padded by 3: 352 bytes)
--   soft_registers  values of a soft type the compiler keeps in core registers:
--                pairs of the 13 it allocates
--   double_registers  registers of one double where the FPU pairs its single
--                registers for them (nil: 'registers')
local MACHINES = {
  -- AVX-512 (Skylake-SP and later Xeons, Zen 4 and 5): 32 zmm registers.
  ["x86-64-v4"] = { isa = "AVX-512", vector = 64, registers = 32,
                    fma = { float = true, double = true },
                    cache = 32768, stack = 61440, copies = 32768, frame = 1024, direct_frame = 256 },
  -- AVX2 + FMA (Haswell and later, Zen 1 to 3): 16 ymm registers.
  ["x86-64-v3"] = { isa = "AVX2+FMA", vector = 32, registers = 16,
                    fma = { float = true, double = true },
                    cache = 32768, stack = 61440, copies = 32768, frame = 1024, direct_frame = 256 },
  -- Armv8-A Advanced SIMD: 32 q registers of 128 bits.
  ["aarch64"]   = { isa = "NEON", vector = 16, registers = 32,
                    fma = { float = true, double = true },
                    cache = 32768, stack = 61440, copies = 32768, frame = 1024, direct_frame = 256 },
  -- FPv4-SP: 32 single-precision registers, no double-precision unit (double is
  -- software floating point), no cache, a small stack.
  ["cortex-m4"] = { isa = "FPv4-SP", vector = 0, registers = 32,
                    fma = { float = true, double = false }, soft = { double = true },
                    cache = 0, stack = 1024, copies = 0, frame = 512, direct_frame = 256, soft_frame = 320,
                    soft_registers = 6, direct = true, unroll_taps = 9 },
  -- FPv5-DP: 32 single or 16 double-precision registers.
  ["cortex-m7"] = { isa = "FPv5-DP", vector = 0, registers = 32, double_registers = 16,
                    fma = { float = true, double = true },
                    cache = 16384, stack = 1024, copies = 0, frame = 512, direct_frame = 256, direct = true,
                    unroll_taps = 9 },
  -- Any C99 compiler: scalar code, no assumption about registers or FMA.
  ["generic"]   = { isa = "none", vector = 0, registers = 16,
                    fma = { float = false, double = false },
                    cache = 32768, stack = 61440, copies = 32768, frame = 1024, direct_frame = 256, direct = true },
}

-- The register budgets below were measured on a 32-register machine (AVX-512,
-- gcc 12): of 32 registers, 26 for a rolling group's carried and fresh source
-- vectors plus its weights, 20 and 18 for grad_weight's tap groups, 10 for its
-- two-row blocks.  Other register files scale them.
local function scaled(regs, of32)
  return math.max(1, regs * of32 // 32)
end

-- Return the names of every target, sorted (for messages and tests).
function targets.names()
  local list = {}
  for name in pairs(MACHINES) do list[#list + 1] = name end
  table.sort(list)
  return list
end

-- Return the schedule facts of target 'name' for elements of type 'dtype', with
-- the choices of 'choice' (from --schedule, measured by 'convgen tune'; nil for the
-- model's own): lanes (length of the lane arrays), acc (accumulators per row
-- block), roll (0: no rolling rows; 1: where the registers allow; 2: wherever
-- the window allows).  'code' holds the code options that bound the schedule:
-- stack_limit (bytes of one frame, 0 or nil: the target's own) and workspace
-- (copies live in the caller's buffer, not on the stack).
function targets.schedule(name, dtype, choice, code)
  local m = assert(MACHINES[name], "unknown target " .. tostring(name))
  local size = dtype == "float" and 4 or 8
  local regs = dtype == "double" and m.double_registers or m.registers
  local soft = m.soft and m.soft[dtype]
  if soft then regs = m.soft_registers end
  local lanes = math.max(1, m.vector // size)
  choice, code = choice or {}, code or {}
  local limit = (code.stack_limit or 0) > 0 and code.stack_limit or m.stack
  -- What local arrays may take of the frame; copies count only without a workspace.
  local arrays = math.max(0, limit - m.frame)
  local copies = code.workspace and m.copies or math.min(m.copies, arrays)
  local S = {
    target = name, isa = m.isa, size = size,
    -- Elements of one vector: the lane arrays' length and the column step.
    lanes = lanes,
    -- Padded rows are a whole number of vectors long, so every row starts as aligned
    -- as the first (see convgen.lua's row_pitch).
    row_align = lanes,
    fma = m.fma[dtype],
    registers = regs,
    direct = m.direct or false,
    unroll_taps = m.unroll_taps,
    copy_bytes = copies,
    -- Alignment of the workspace: a vector, so copies in it start as aligned as on the stack.
    align = math.max(size, m.vector),
    -- Bytes of a frame beyond its local arrays (saved registers, spills, alignment),
    -- at most: measured with -fstack-usage of the target's gcc at -O2 and -Os.
    frame = m.frame,
    -- The same for the scalar schedule's frames, which hold no arrays.
    direct_frame = soft and m.soft_frame or m.direct_frame,
    -- Lane sums of grad_weight's tap groups, at most (more taps, fewer channels).
    part_bytes = copies * 3 // 4,
    stack_bytes = arrays,
    stack_limit = limit,
    -- Source rows one column strip of a rolling group spans stay in the L1 cache.
    strip_bytes = m.cache,
    roll_regs = scaled(regs, 26),
    gw_taps = scaled(regs, 20),
    gw_group = scaled(regs, 18),
    gw_two_rows = scaled(regs, 10),
    gw_roll_one = scaled(regs, 26),
    gw_roll_two = scaled(regs, 29),
    -- Accumulators per row block of a gather: 8 was fastest with 32 registers
    -- (AVX-512) and, unscaled, with 16 (AVX2, Zen 3: 4 was 10-40% slower on
    -- multi-channel and 7x7 layers, measured by 'convgen tune').
    accumulators = 8,
    -- grad_bias sums in this many lanes: eight vectors of independent adds (AVX2,
    -- 254x254 plane: 8 lanes 7.8 GFLOP/s, 16 11.0, 32 11.1, 64 16.4).
    bias_lanes = math.min(64, 8 * lanes),
    -- Taps per accumulator chain before a sum splits in two.
    chain_taps = 16,
    roll = true,
    -- Output planes one pass of a gather computes, the largest that divides the
    -- group's channels: each source element loaded then feeds that many sums.
    channel_blocks = { 4, 2, 1 },
    -- Distinct source offsets of a row group beyond which its vectorized j loop
    -- becomes an outer loop of LANES columns around a fixed-count lane loop: gcc 12
    -- keeps one pointer per offset in the plain loop and spills them.
    lane_loop_offsets = 16,
    -- Most phases of a strided gather merged into one loop over a padded copy: their
    -- sums share the accumulators of one row block.
    merged_phases = 4,
    -- Rows of one column strip of a rolling group when the rows do not all fit the
    -- cache: at least, and at most (3x3 forward: 256 columns best at 32 rows, 1024
    -- columns at 8).
    strip_rows_min = 8,
    strip_rows_max = 32,
    -- grad_weight's output channels a block, where that many divide the group's:
    -- each I vector loaded feeds that many channels' sums.
    gw_channels = 2,
    -- Taps beyond which grad_weight loops at run time over rectangles of taps instead
    -- of printing every tap group (windows larger than 12x12): code grows with the
    -- group, not with the window.
    gw_loop_taps = 144,
    -- The scalar schedule (direct.lua): FPU registers left to the compiler's own
    -- temporaries, and the fewest a block's budget counts on.
    direct_reserved = 4,
    direct_min_registers = 4,
    -- Most columns one scalar block holds, and the registers each column of a
    -- block counts on (its sums, its sources and a share of the weights).
    direct_columns = 4,
    direct_column_registers = 4,
    -- Taps whose values gcc loads early where every tap is unrolled: registers are
    -- left for them (1->8 channels 28x28 k3 on a Cortex-M4: 4 output channels a block
    -- spilled, 2 took 23% fewer instructions).
    direct_taps_in_flight = 2,
    -- Independent sums of the scalar grad_bias: a chain of dependent adds would wait
    -- on the FPU's latency.
    direct_bias_sums = 4,
  }
  if choice.lanes then S.lanes, S.row_align, S.bias_lanes = choice.lanes, choice.lanes, choice.lanes end
  if choice.acc then S.accumulators = choice.acc end
  if choice.roll then S.roll = choice.roll ~= 0 end
  -- roll=2: rolling rows wherever the window is a rectangle, whatever the register
  -- budget says (clang 14 on AVX2: 3x3 forward 6x faster rolled than in row blocks,
  -- where gcc 12 is 1.1x faster in row blocks; measured by 'convgen tune').
  if choice.roll == 2 then S.roll_regs, S.gw_roll_one, S.gw_roll_two = 1024, 1024, 1024 end
  return S
end

-- Return the schedule choices 'convgen tune' times for target 'name' and 'dtype',
-- the model's own first ({}): lane arrays one and two vectors long (scalar
-- targets: 1 and 4 lanes), the model's accumulators and twice as many, rolling
-- rows where the registers allow, nowhere, and wherever the window allows.
-- Twelve in all: seconds of compiling and timing.
function targets.candidates(name, dtype)
  local S = targets.schedule(name, dtype)
  local lanes = S.lanes > 1 and { S.lanes, 2 * S.lanes } or { 1, 4 }
  local list = { {} }
  for _, l in ipairs(lanes) do
    for _, acc in ipairs({ S.accumulators, 2 * S.accumulators }) do
      for _, roll in ipairs({ 1, 0, 2 }) do
        if not (l == S.lanes and acc == S.accumulators and roll == 1) then
          list[#list + 1] = { lanes = l, acc = math.min(acc, 64), roll = roll }
        end
      end
    end
  end
  return list
end

return targets
