// Data at the edges of Double (huge equal values, denormal spans, the full finite range, NaN
// among them) renders or fails with a PlotError in every format and in the text preview;
// no conversion to Int may trap (issue 25).
import Testing
@testable import Plot

@Suite struct ExtremeDataTests {
    /// Builds and renders every way a figure can be shown; returns the first PlotError's message.
    func exercise(_ build: () throws -> Figure) -> String? {
        do {
            let fig = try build()
            _ = fig.preview()
            _ = fig.preview(width: 3, height: 2)
            for format in PlotFormat.allCases { _ = try fig.encoded(as: format, timestamp: false) }
            return nil
        } catch let e as PlotError {
            return e.message
        } catch {
            return "other error: \(error)"
        }
    }

    @Test func histogramsOfExtremeValues() {
        for values: [Double] in [Array(repeating: 1e20, count: 10), Array(repeating: -1e300, count: 3), [1e308, -1e308],
                                 [0, 1e-310], [5e-324, 5e-324], [1, .nan, 1e16, 1e16 + 2], [.greatestFiniteMagnitude]] {
            let m = exercise { try Figure.histogram([("v", values)]) }
            #expect(m == nil || !m!.hasPrefix("other"), "\(values): \(m ?? "")")
        }
    }

    @Test func axesOverExtremeRanges() {
        for xs: [Double] in [[0, 1e-310], [1e-310, 2e-310], [-1e308, 1e308], [1e300, 1e300], [0, 5e-324], [1e15, 1e15 + 1]] {
            let rows: [String: PlotColumn] = ["x": .numbers(xs), "y": .numbers([1, 2])]
            for build in [{ try Figure.line(rows: rows, x: "x", y: "y") }, { try Figure.scatter(rows: rows, x: "x", y: "y") },
                          { try Figure.line(rows: rows, x: "y", y: "x") }] {
                let m = exercise(build)
                #expect(m == nil || !m!.hasPrefix("other"), "\(xs): \(m ?? "")")
            }
        }
    }

    @Test func conversionHelperNeverTraps() {
        #expect(plotInt(.nan) == 0)
        #expect(plotInt(.infinity) == plotIntLimit && plotInt(-.infinity) == -plotIntLimit)
        #expect(plotInt(1e300) == plotIntLimit && plotInt(-2.7) == -2 && plotInt(3.9) == 3)
    }
}
