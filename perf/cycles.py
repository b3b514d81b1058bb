"""A cycle counter for timing single operations inside numba loops (rdtsc on x86-64).

Reading the counter costs roughly 10-20 ns, which is included in every figure taken with
it. `ns_per_cycle` calibrates it against the monotonic clock.
"""

from __future__ import annotations

import time

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _readcyclecounter(typingctx):
    sig = types.int64()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=fnty)
        return builder.call(fn, [])

    return sig, codegen


@njit(cache=True)
def cycles() -> int:
    return _readcyclecounter()


def ns_per_cycle(seconds: float = 0.2) -> float:
    cycles()
    t0, c0 = time.perf_counter_ns(), cycles()
    deadline = t0 + int(seconds * 1e9)
    while time.perf_counter_ns() < deadline:
        pass
    t1, c1 = time.perf_counter_ns(), cycles()
    return (t1 - t0) / max(1, c1 - c0)
