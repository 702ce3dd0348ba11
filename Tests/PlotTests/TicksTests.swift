// Ticks: 1-2-5 steps on linear axes, powers of ten on log axes, and their labels.
import Testing
@testable import Plot

@Suite struct TicksTests {
    @Test func linearTicksUseOneTwoFiveSteps() {
        #expect(Ticks.linear(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(Ticks.linear(0.03, 0.97) == [0.2, 0.4, 0.6, 0.8])
        #expect(Ticks.linear(-3, 17) == [0, 5, 10, 15])
        #expect(Ticks.linear(0, 1, maxCount: 11) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
        #expect(Ticks.linear(0, 1000, maxCount: 3) == [0, 500, 1000])
        #expect(Ticks.linear(0.0012, 0.0047) == [0.002, 0.003, 0.004])
        for (lo, hi) in [(0.0, 1.0), (0.03, 0.97), (-3.0, 17.0), (1e-6, 3e-6), (-250.0, 1e4), (0.5, 0.51)] {
            let step = Ticks.linearStep(lo, hi)
            let mantissa = step / pow10(step.log10.rounded(.down))
            #expect([1.0, 2, 5].contains { abs($0 - mantissa) < 1e-9 }, "step \(step) for [\(lo), \(hi)]")
            let ticks = Ticks.linear(lo, hi)
            #expect(ticks.count >= 2 && ticks.count <= 6, "\(ticks)")
            #expect(ticks.allSatisfy { $0 >= lo - 1e-12 && $0 <= hi + 1e-12 })
        }
    }

    @Test func linearLabelsShareTheirDecimals() {
        let t = Ticks.linear(0, 1)
        #expect(Ticks.labels(t, step: 0.2) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(Ticks.labels([-10, 0, 10], step: 10) == ["−10", "0", "10"])
        #expect(Ticks.labels([0, 0.05, 0.1], step: 0.05) == ["0.00", "0.05", "0.10"])
    }

    @Test func logTicksArePowersOfTen() {
        let t = Ticks.log(0.01, 1)
        #expect(t.major == [0.01, 0.1, 1])
        #expect(t.minor.count == 16)
        #expect(t.minor.contains { abs($0 - 0.02) < 1e-12 } && t.minor.contains { abs($0 - 0.9) < 1e-12 })
        #expect(Ticks.logLabels(t.major) == ["0.01", "0.1", "1"])
        // Many decades: every other one, no minors.
        let wide = Ticks.log(1e-8, 1e8, maxCount: 6)
        #expect(wide.major.count <= 6 && wide.minor.isEmpty)
        #expect(wide.major.allSatisfy { abs($0.log10 - $0.log10.rounded()) < 1e-9 })
        #expect(Ticks.logLabels([1e-6, 1e-3, 1]) == ["10⁻⁶", "10⁻³", "10⁰"])
        // Less than three decades: 1-2-5 labels.
        #expect(Ticks.log(0.01, 0.5).major == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
    }

    @Test func numbersFormatShortly() {
        #expect(Ticks.format(3) == "3")
        #expect(Ticks.format(0.1 + 0.2) == "0.3")
        #expect(Ticks.format(-2.5) == "−2.5")
        #expect(Ticks.format(1.5e-7) == "1.5e−7")
        #expect(Ticks.format(.nan) == "NaN")
    }
}
