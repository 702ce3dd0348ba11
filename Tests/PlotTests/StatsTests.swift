// Stats: grouping rows by a column and summarising seeds as mean ± sd / se with n, by hand.
import Testing
@testable import Plot

@Suite struct StatsTests {
    @Test func summaryOfSeeds() throws {
        // 1, 2, 3, 6: mean 3, deviations −2 −1 0 3, squares sum 14, sample variance 14/3.
        let s = try #require(Summary([1, 2, 3, 6, .nan]))
        #expect(s.n == 4)
        #expect(s.mean == 3)
        #expect(abs(s.sd - (14.0 / 3).squareRoot()) < 1e-12)
        #expect(abs(s.se - (14.0 / 3).squareRoot() / 2) < 1e-12)
        #expect(s.spread(.none) == 0 && s.spread(.sd) == s.sd && s.spread(.se) == s.se)
        let one = try #require(Summary([5]))
        #expect(one.n == 1 && one.sd == 0 && one.se == 0)
        #expect(Summary([]) == nil && Summary([.nan, .infinity]) == nil)
    }

    @Test func aggregateGroupsByXSorted() {
        let points = Stats.aggregate(x: [0.5, 0.1, 0.5, 0.1, 0.5, .nan], y: [0.8, 0.4, 0.9, 0.6, 1.0, 1])
        #expect(points.map(\.x) == [0.1, 0.5])
        #expect(points.map(\.summary.n) == [2, 3])
        #expect(abs(points[0].summary.mean - 0.5) < 1e-12)
        #expect(abs(points[1].summary.mean - 0.9) < 1e-12)
        #expect(abs(points[1].summary.sd - 0.1) < 1e-12)
        #expect(Stats.countSuffix(points) == " (n=2–3)")
        #expect(Stats.countSuffix(Stats.aggregate(x: [1, 2], y: [3, 4])) == "")
    }

    @Test func groupsKeepStringOrderAndSortNumbers() throws {
        let rows: [String: PlotColumn] = ["m": .strings(["b", "a", "b", "c"]), "k": .numbers([3, 1, 3, 2])]
        let byM = try Stats.groups(rows, by: "m", count: 4)
        #expect(byM.map(\.label) == ["b", "a", "c"])
        #expect(byM[0].rows == [0, 2])
        let byK = try Stats.groups(rows, by: "k", count: 4)
        #expect(byK.map(\.label) == ["1", "2", "3"])
        #expect(try Stats.groups(rows, by: nil, count: 4).map(\.rows) == [[0, 1, 2, 3]])
    }

    @Test func lineSeriesCarryMeanSdAndN() throws {
        let rows: [String: PlotColumn] = [
            "keep": .numbers([0.1, 0.1, 0.1, 0.5, 0.5, 0.5]),
            "acc": .numbers([0.6, 0.7, 0.8, 0.9, 0.9, 0.9]),
            "method": .strings(["magnitude", "magnitude", "magnitude", "magnitude", "magnitude", "magnitude"]),
        ]
        let fig = try Figure.line(rows: rows, x: "keep", y: "acc", by: "method")
        guard case .line(let s) = fig.panels[0].marks[0] else { Issue.record("not a line"); return }
        #expect(s.label == "magnitude (n=3)")
        #expect(s.x == [0.1, 0.5])
        #expect(abs(s.y[0] - 0.7) < 1e-12)
        #expect(abs((s.upper?[0] ?? 0) - 0.8) < 1e-12 && abs((s.lower?[0] ?? 0) - 0.6) < 1e-12)
        #expect(fig.panels[0].legendTitle == "method (mean ± sd)")
        let se = try Figure.line(rows: rows, x: "keep", y: "acc", err: .se)
        guard case .line(let t) = se.panels[0].marks[0] else { Issue.record("not a line"); return }
        #expect(t.label == "mean ± se (n=3)")
        #expect(abs((t.upper?[0] ?? 0) - (0.7 + 0.1 / 3.0.squareRoot())) < 1e-12)
    }
}
