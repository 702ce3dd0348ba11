// The branch-free erf and exp behind GELU against libm, in Double, over dense grids.
import Testing
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct SpecialFunctionTests {
    @Test func fastErfIsWithinHalfAMillionth() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = Float(-6 + 12 * Double(i) / 200_000)
            worst = Swift.max(worst, Swift.abs(Double(fastErf(x)) - erf(Double(x))))
        }
        #expect(worst < 5e-7, "largest error \(worst)")
        #expect(fastErf(0) == 0 && fastErf(10) == -fastErf(-10))
    }

    @Test func fastExpIsWithinATenthOfAMillionthRelative() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = Float(-87 + 175 * Double(i) / 200_000)
            let exact = exp(Double(x))
            worst = Swift.max(worst, Swift.abs(Double(fastExp(x)) - exact) / exact)
        }
        #expect(worst < 2e-7, "largest relative error \(worst)")
        #expect(fastExp(0) == 1 && fastExp(-1000) >= 0 && fastExp(-1000) < 1e-37)
    }
}
