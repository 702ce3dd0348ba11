// Sparsity schedules: cubic and linear values at the warm-up end, midpoint and cool-down start.
import Testing
@testable import Pruning

@Suite struct ScheduleTests {
    @Test func cubicValuesAtWarmupMidpointAndCooldown() {
        // T = 100, t_i = 10, t_f = 20: pruning runs over steps 10..<80.
        let s = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 1)
        #expect(s.value(at: 0, total: 100, final: 0.1) == 1)
        #expect(s.value(at: 9, total: 100, final: 0.1) == 1)
        #expect(s.value(at: 10, total: 100, final: 0.1) == 1)          // warm-up end: v_i
        // Midpoint t = 45: v_f + (v_i − v_f)·(1/2)³ = 0.1 + 0.9/8.
        #expect(abs(s.value(at: 45, total: 100, final: 0.1) - (0.1 + 0.9 / 8)) < 1e-12)
        #expect(s.value(at: 80, total: 100, final: 0.1) == 0.1)        // cool-down start: v_f
        #expect(s.value(at: 99, total: 100, final: 0.1) == 0.1)
        // Decreasing throughout.
        var previous = 2.0
        for t in 0..<100 {
            let v = s.value(at: t, total: 100, final: 0.1)
            #expect(v <= previous)
            previous = v
        }
    }

    @Test func linearAndConstant() {
        let lin = PruneSchedule(.linear, warmup: 0, cooldown: 0, every: 1)
        #expect(abs(lin.value(at: 50, total: 100, final: 0) - 0.5) < 1e-12)
        let c = PruneSchedule(.constant)
        #expect(c.value(at: 0, total: 100, final: 0.3) == 0.3)
        #expect(PruneSchedule(.oneshot).updates(after: 5, total: 10) == false)
        let every = PruneSchedule(.cubic, every: 4)
        #expect((1...12).filter { every.updates(after: $0, total: 12) } == [4, 8, 12])
    }
}
