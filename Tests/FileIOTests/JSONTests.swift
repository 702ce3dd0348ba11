// JSON (the notebook cache's and the safetensors header's) and the content hash: values and
// strings with escapes round-trip, a long cell output parses in time proportional to its size
// (it was quadratic: 40,000 printed lines took 12 s to read back), and Ctrl-C stops a long parse.
import Testing
import FileIO

/// A cell output of `lines` printed lines, as the cache stores it.
private func output(lines: Int) -> String {
    var s = ""
    for i in 0..<lines { s += "epoch \(i): loss 0.\(i % 997) \"acc\"\t\u{1}é😀\n" }
    return s
}

/// The fastest of `repeats` parses of `text`, in seconds.
private func fastestParse(_ text: String, repeats: Int) -> Double {
    var best = Double.infinity
    for _ in 0..<repeats {
        let t0 = monotonicSeconds()
        _ = try? JSON.parse(text)
        best = min(best, monotonicSeconds() - t0)
    }
    return best
}

@Suite struct JSONTests {
    @Test func roundTripsValues() throws {
        let v = JSON.object([("a", .double(1.5)), ("b", .array([.null, .bool(true), .string("q\"\\\n\u{1}é😀")])), ("c", .double(-3))])
        #expect(try JSON.parse(v.text) == v)
        #expect((try? JSON.parse("{\"a\": [1, 2,]}")) == nil)
        #expect(try JSON.parse("\"\\ud83d\\ude00\"") == .string("😀"))
    }

    /// The notebook cache seals an entry with a hash of this text, so its form is fixed: one
    /// line per top-level member, compact inside, integral numbers as integers, others in
    /// Swift's shortest form, non-finite ones as null (as the notebooks' own writer wrote them).
    @Test func cacheEntryTextKeepsItsForm() throws {
        let v = JSON.object([("a", .double(1)), ("b", .double(0.1)), ("c", .array([.string("x\n"), .double(1e-5), .double(.nan)])),
                             ("d", .object([("e", .double(-2.5))]))])
        #expect(v.text == "{\n \"a\":1,\n \"b\":0.1,\n \"c\":[\"x\\n\",1e-05,null],\n \"d\":{\"e\":-2.5}\n}")
        #expect(JSON.object([]).text == "{}")
        #expect(try JSON.parse(v.text).text == v.text)
    }

    @Test func contentHashDependsOnEveryPart() {
        #expect(ContentHash.of(["a", "b"]) == ContentHash.of(["a", "b"]))
        #expect(ContentHash.of(["a", "b"]) != ContentHash.of(["ab"]))
        #expect(ContentHash.of(["a", "b"]) != ContentHash.of(["a", "c"]))
        #expect(ContentHash.of(["x"]).count == 32)
    }

    @Test func stringsWithEveryKindOfEscapeRoundTrip() throws {
        let text = "a\"b\\c\nd\re\tf\u{1}\u{1F}g/é😀\u{7F}" + output(lines: 3)
        let json = JSON.object([("s", .string(text)), ("n", .double(0.25)), ("a", .array([.null, .bool(true)]))])
        #expect(try JSON.parse(json.text) == json)
        #expect(try JSON.parse("\"\\ud83d\\ude00\\u00e9\\/\"") == .string("😀é/"))
        #expect((try? JSON.parse("\"unterminated")) == nil)
        #expect((try? JSON.parse("\"bad \\q escape\"")) == nil)
    }

    @Test func aLargeOutputRoundTrips() throws {
        let big = output(lines: 200_000)
        let json = JSON.object([("output", .string(big))])
        let back = try JSON.parse(json.text)
        #expect(back["output"]?.string == big)
    }

    /// A hundred times the output takes about a hundred times as long (not ten thousand, as
    /// when each escape copied the whole string read so far). The gap between linear and
    /// quadratic is so wide that a loaded machine (which has skewed ratios by 3-4x) cannot blur
    /// it; the fastest of several runs each, taken in turns. The small text (90 kB) fits the
    /// processor's caches and parses faster per byte, which lifts the linear ratio to ~150.
    @Test func parsingTimeGrowsLinearlyWithTheOutput() throws {
        let small = JSON.object([("output", .string(output(lines: 2_000)))]).text
        let large = JSON.object([("output", .string(output(lines: 200_000)))]).text
        var (fastSmall, fastLarge) = (Double.infinity, Double.infinity)
        for _ in 0..<4 {
            fastSmall = min(fastSmall, fastestParse(small, repeats: 10))
            fastLarge = min(fastLarge, fastestParse(large, repeats: 1))
        }
        let ratio = fastLarge / fastSmall
        #expect(ratio < 2_000, "100x the output took \(ratio)x as long to parse")
    }

    @Test func ctrlCStopsALongParse() throws {
        let text = JSON.object([("output", .string(output(lines: 100_000)))]).text
        #expect((try? JSON.parse(text, shouldStop: { true })) == nil)
        #expect((try? JSON.parse(text, shouldStop: { false })) != nil)
    }
}
