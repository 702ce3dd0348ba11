// Preview: the first panel as Unicode text for the REPL.
import Testing
@testable import Plot

@Suite struct PreviewTests {
    @Test func linePreviewShowsSeriesAndLegend() throws {
        let text = try Samples.line().preview(width: 60, height: 15)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "Pruning while fine-tuning")
        #expect(text.contains("● magnitude (n=3)") && text.contains("■ movement (n=3)"))
        #expect(text.unicodeScalars.contains { $0.value >= 0x2801 && $0.value <= 0x28FF }, "braille dots")
        #expect(text.contains("└" + String(repeating: "─", count: 60)))
        #expect(lines.count <= 15 + 6)
        #expect(lines.allSatisfy { $0.count <= 80 })
    }

    @Test func otherKindsPreview() throws {
        let bars = try Samples.bar().preview()
        #expect(bars.contains("embed.weight") && bars.contains("█"))
        let heat = try Samples.heatmap().preview(width: 32, height: 12)
        #expect(heat.contains("▓") || heat.contains("█"))
        #expect(try Samples.scatter().preview().unicodeScalars.contains { $0.value > 0x2800 && $0.value <= 0x28FF })
        #expect(try Samples.curves().preview().contains("(first of 2 panels)"))
        #expect(try Samples.histogram().preview().contains("dense"))
    }
}
