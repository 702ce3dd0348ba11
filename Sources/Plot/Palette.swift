// Palette: colours and markers for series (Okabe-Ito, colour-blind safe), and the colour maps
// for heatmaps and images (viridis for magnitudes, blue–white–red for signed values, gray).

/// An sRGB colour with components in 0…1.
public struct Color: Equatable, Sendable {
    public var r: Double, g: Double, b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) { self.r = r; self.g = g; self.b = b }

    /// From 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(Double((hex >> 16) & 0xFF) / 255, Double((hex >> 8) & 0xFF) / 255, Double(hex & 0xFF) / 255)
    }

    public static let black = Color(0, 0, 0)
    public static let white = Color(1, 1, 1)
    /// Text and spines: near-black, softer than pure black next to coloured lines.
    static let ink = Color(hex: 0x262626)
    static let grid = Color(hex: 0xE6E6E6)
    static let legendEdge = Color(hex: 0xCCCCCC)

    /// Linear blend from self (t = 0) to other (t = 1).
    func mixed(with other: Color, _ t: Double) -> Color {
        Color(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }
}

public enum Palette {
    /// Okabe & Ito (2008), ordered so that the first colours contrast most on white and the
    /// yellow, hard to see as a thin line, comes last.
    public static let colors: [Color] = [
        Color(hex: 0x0072B2),  // blue
        Color(hex: 0xE69F00),  // orange
        Color(hex: 0x009E73),  // bluish green
        Color(hex: 0xD55E00),  // vermillion
        Color(hex: 0xCC79A7),  // reddish purple
        Color(hex: 0x56B4E9),  // sky blue
        Color(hex: 0x000000),  // black
        Color(hex: 0xF0E442),  // yellow
    ]

    /// The colour of series number `i` (cycling).
    public static func color(_ i: Int) -> Color { colors[((i % colors.count) + colors.count) % colors.count] }

    /// The marker of series number `i` (cycling).
    public static func marker(_ i: Int) -> Marker {
        let all = Marker.allCases
        return all[((i % all.count) + all.count) % all.count]
    }

    /// A mask's two colours: kept weights stand out, pruned ones are the background.
    public static let kept = Color(hex: 0x0072B2)
    public static let pruned = Color(hex: 0xE8E8E8)

    /// viridis (van der Walt & Smith), ten samples; interpolated linearly between them.
    static let viridis: [Color] = [0x440154, 0x482878, 0x3E4A89, 0x31688E, 0x26828E,
                                   0x1F9E89, 0x35B779, 0x6DCD59, 0xB4DE2C, 0xFDE725].map { Color(hex: $0) }
    /// ColorBrewer RdBu reversed: blue below the centre, red above, near-white in the middle.
    static let diverging: [Color] = [0x053061, 0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7,
                                     0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B, 0x67001F].map { Color(hex: $0) }

    /// The colour of `t` in 0…1 under `map` (values outside are clamped; `.auto` means viridis).
    public static func color(_ t: Double, _ map: Colormap) -> Color {
        let t = t.isNaN ? 0 : Swift.min(1, Swift.max(0, t))
        switch map {
        case .gray: return Color(t, t, t)
        case .binary: return t < 0.5 ? pruned : kept
        case .diverging: return sample(diverging, t)
        case .viridis, .auto: return sample(viridis, t)
        }
    }

    static func sample(_ stops: [Color], _ t: Double) -> Color {
        let x = t * Double(stops.count - 1)
        let i = Swift.min(stops.count - 2, plotInt(x))
        return stops[i].mixed(with: stops[i + 1], x - Double(i))
    }

    /// 256 premultiplied ARGB32 pixels of `map`, for drawing matrices through a lookup table.
    static func lookupTable(_ map: Colormap) -> [UInt32] {
        (0..<256).map { argb(color(Double($0) / 255, map)) }
    }

    /// An opaque colour as a cairo ARGB32 pixel.
    static func argb(_ c: Color) -> UInt32 {
        func byte(_ v: Double) -> UInt32 { UInt32(Swift.min(255, Swift.max(0, (v * 255).rounded()))) }
        return 0xFF00_0000 | byte(c.r) << 16 | byte(c.g) << 8 | byte(c.b)
    }
}
