// Invalid input gives a PlotError with a message that names the problem, never a crash.
import Testing
@testable import Plot

@Suite struct InputErrorTests {
    func message(_ body: () throws -> Figure) -> String {
        do { _ = try body(); return "no error" } catch let e as PlotError { return e.message } catch { return "other error \(error)" }
    }

    let rows: [String: PlotColumn] = ["x": .numbers([1, 2, 3]), "y": .numbers([1, 4, 9]), "m": .strings(["a", "b", "a"])]

    @Test func tableErrors() {
        #expect(message { try Figure.line(rows: [:], x: "x", y: "y") }.contains("no column 'x'"))
        #expect(message { try Figure.line(rows: ["x": .numbers([]), "y": .numbers([])], x: "x", y: "y") }.contains("no rows"))
        #expect(message { try Figure.line(rows: rows, x: "x", y: "z") }.contains("no column 'z' in the table (columns: m, x, y)"))
        #expect(message { try Figure.line(rows: ["x": .numbers([1, 2]), "y": .numbers([1])], x: "x", y: "y") }
            .contains("different lengths"))
        #expect(message { try Figure.line(rows: rows, x: "m", y: "y") }.contains("column 'm' holds strings"))
        #expect(message { try Figure.line(rows: ["x": .numbers([1, 2]), "y": .numbers([.nan, .nan])], x: "x", y: "y") }
            .contains("no finite values"))
        #expect(message { try Figure.line(rows: rows, x: "x", y: "y", by: "q") }.contains("no column 'q'"))
    }

    @Test func logAxesNeedPositiveValues() {
        let r: [String: PlotColumn] = ["x": .numbers([0, 1, 2]), "y": .numbers([1, -1, 2])]
        #expect(message { try Figure.line(rows: r, x: "x", y: "y", logX: true) }.contains("log x axis: column 'x' has a non-positive value (0)"))
        #expect(message { try Figure.scatter(rows: r, x: "y", y: "y", logY: true) }.contains("log y axis"))
        #expect(message { try Figure.bar(rows: ["c": .strings(["a", "b", "c"]), "y": .numbers([1, -1, 2])], x: "c", y: "y", logY: true) }
            .contains("log y axis"))
    }

    @Test func kindSpecificErrors() {
        #expect(message { try Figure.bar(labels: ["a"], values: [1, 2]) }.contains("1 labels but 2 values"))
        #expect(message { try Figure.histogram([("a", [.nan])]) }.contains("no finite values"))
        #expect(message { try Figure.histogram([]) }.contains("no finite values"))
        #expect(message { try Figure.histogram([("a", [1, 2])], bins: 0) }.contains("bins"))
        #expect(message { try Figure.scatter(x: [1, 2], y: [1]) }.contains("x has 2 values but y has 1"))
        #expect(message { try Figure.scatter(x: [], y: []) }.contains("no points"))
        #expect(message { try Figure.scatter(x: [1], y: [1], alpha: 2) }.contains("alpha"))
        #expect(message { try Figure.heatmap(matrix: [1, 2, 3], rows: 2, cols: 2) }.contains("do not fill a 2×2 matrix"))
        #expect(message { try Figure.heatmap(matrix: [], rows: 0, cols: 2) }.contains("must be positive"))
        #expect(message { try Figure.heatmap(matrix: [.nan, .nan], rows: 1, cols: 2) }.contains("no finite values"))
        #expect(message { try Figure.images([], width: 2, height: 2) }.contains("no images"))
        #expect(message { try Figure.images([[1, 2, 3]], width: 2, height: 2) }.contains("image 0 has 3 values"))
        #expect(message { try Figure.images([[1, 2, 3, 4]], width: 2, height: 2, captions: ["a", "b"]) }.contains("2 captions for 1 images"))
        #expect(message { try Figure.curves(rows: rows, x: "x", y: []) }.contains("at least one y column"))
        #expect(message { try Figure.panels([]) }.contains("at least one figure"))
        #expect(message { try Figure.panels([Figure.bar(labels: ["a"], values: [1])], rows: 0) }.contains("rows must be at least 1"))
        #expect(message {
            let f = try Figure.bar(labels: ["a"], values: [1])
            return try Figure.panels([f, f, f], rows: 1, cols: 2)
        }.contains("no room for 3 panels"))
    }

    @Test func oddButValidInputStillRenders() throws {
        // Constant data, a single point, infinities and NaN among finite values, huge magnitudes.
        let figures = [
            try Figure.line(rows: ["x": .numbers([1, 1]), "y": .numbers([2, 2])], x: "x", y: "y"),
            try Figure.line(rows: ["x": .numbers([1, 2, 3]), "y": .numbers([1, .nan, .infinity])], x: "x", y: "y"),
            try Figure.scatter(x: [1e300, -1e300], y: [1e-300, 0]),
            try Figure.histogram([("a", [5, 5, 5])]),
            try Figure.heatmap(matrix: [0, 0, 0, 0], rows: 2, cols: 2),
            try Figure.bar(labels: ["a", "b"], values: [.nan, 0]),
            try Figure.line(rows: ["x": .numbers([1e-12, 1e12]), "y": .numbers([1, 2])], x: "x", y: "y", logX: true),
        ]
        for f in figures {
            _ = try f.encoded(as: .png, dpi: 30)
            _ = f.preview()
        }
    }
}
