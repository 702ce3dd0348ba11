// Figure model: what a figure shows (panels, axes, marks, legend), independent of how it is
// drawn. Backends (Output.swift) turn the same model into PNG, SVG or PDF; Preview.swift into text.

/// An error from building or writing a figure; the message names the input or path at fault.
public struct PlotError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One column of a table handed to the builders: numbers, or strings (for grouping and categories).
public enum PlotColumn: Equatable, Sendable {
    case numbers([Double])
    case strings([String])

    /// The number of rows.
    public var count: Int {
        switch self {
        case .numbers(let v): return v.count
        case .strings(let v): return v.count
        }
    }
}

/// How repeated rows at one x (seeds) are summarised around their mean.
public enum Dispersion: String, Sendable, CaseIterable {
    /// The mean alone.
    case none
    /// Mean ± sample standard deviation.
    case sd
    /// Mean ± standard error of the mean (sd / √n).
    case se
}

/// How a dispersion is drawn on a line.
public enum ErrorStyle: String, Sendable {
    /// Vertical error bars with caps at each x.
    case bars
    /// A shaded band between the lower and upper curves.
    case band
}

/// Axis scale.
public enum Scale: String, Sendable {
    case linear, log
}

/// Marker shapes, a second cue beside colour so series stay distinct in grayscale print.
public enum Marker: Int, CaseIterable, Sendable {
    case circle, square, triangle, diamond, triangleDown, pentagon, hexagon, cross
}

/// Where the legend goes; `.auto` picks the corner that hides the fewest data, else outside right.
public enum LegendPosition: String, Sendable, CaseIterable {
    case auto, none
    case upperRight, upperLeft, lowerLeft, lowerRight, outsideRight
}

/// Colour maps for heatmaps and images.
public enum Colormap: String, Sendable {
    /// Viridis for unsigned data, diverging (blue–white–red, centred on 0) for signed data.
    case auto
    /// Perceptually uniform, dark blue to yellow.
    case viridis
    /// Blue for negative, white at zero, red for positive.
    case diverging
    /// Black to white (images).
    case gray
    /// Two colours for a mask: 0 pruned (light grey), 1 kept (blue).
    case binary
}

/// One axis of a panel.
public struct Axis: Sendable {
    public var label: String?
    public var scale: Scale = .linear
    /// Fixed limits; nil means from the data with a small margin.
    public var min: Double?
    public var max: Double?
    /// Category names at positions 0, 1, …; non-empty makes this a category axis (bars).
    public var categories: [String] = []
    public var minorTicks: Bool = false
    /// Values grow downwards / leftwards (matrix rows in heatmaps).
    public var inverted: Bool = false
    /// No spine, ticks or labels (images).
    public var hidden: Bool = false
    /// Ticks only at whole numbers (matrix indices, counts).
    public var integerTicks: Bool = false
    /// Ticks at exactly these values (the data's x when they are few); the layout falls back to
    /// automatic ticks when their labels would collide.
    public var ticks: [Double] = []

    public init(label: String? = nil, scale: Scale = .linear) {
        self.label = label
        self.scale = scale
    }
}

/// A line through (x, y), optionally with a dispersion drawn as bars or a band.
public struct LineSeries: Sendable {
    public var label: String
    public var x: [Double]
    public var y: [Double]
    /// Lower and upper ends of the error bars or band, one per point (nil: none).
    public var lower: [Double]?
    public var upper: [Double]?
    public var errorStyle: ErrorStyle = .bars
    public var markers: Bool = true
    /// Index into the palette (colour and marker).
    public var style: Int
    public init(label: String, x: [Double], y: [Double], style: Int) {
        self.label = label; self.x = x; self.y = y; self.style = style
    }
}

/// One bar per category of the panel's x axis; several bar series in a panel are grouped.
public struct BarSeries: Sendable {
    public var label: String
    public var values: [Double]
    public var lower: [Double]?
    public var upper: [Double]?
    public var style: Int
    public init(label: String, values: [Double], style: Int) {
        self.label = label; self.values = values; self.style = style
    }
}

/// Counts over shared bin edges (edges.count == counts.count + 1), drawn semi-transparent.
public struct HistogramSeries: Sendable {
    public var label: String
    public var edges: [Double]
    public var counts: [Double]
    public var style: Int
    public init(label: String, edges: [Double], counts: [Double], style: Int) {
        self.label = label; self.edges = edges; self.counts = counts; self.style = style
    }
}

/// Points without lines; small and translucent so that dense clouds show their density.
public struct ScatterSeries: Sendable {
    public var label: String
    public var x: [Double]
    public var y: [Double]
    public var style: Int
    /// Marker diameter in points.
    public var size: Double
    public var alpha: Double
    /// A colour instead of the palette's (the grey of pruned weights).
    public var color: Color?
    public init(label: String, x: [Double], y: [Double], style: Int, size: Double, alpha: Double) {
        self.label = label; self.x = x; self.y = y; self.style = style; self.size = size; self.alpha = alpha
    }
}

/// A matrix shown as coloured cells, row 0 at the top; `values` row-major, NaN drawn blank.
public struct HeatmapData: Sendable {
    public var values: [Double]
    public var rows: Int
    public var cols: Int
    public var colormap: Colormap
    /// The values mapped to the ends of the colour map.
    public var low: Double
    public var high: Double
    /// Whether a colour bar is drawn beside the panel (images have none).
    public var colorBar: Bool
    /// The colour bar's label.
    public var colorLabel: String?
    public init(values: [Double], rows: Int, cols: Int, colormap: Colormap, low: Double, high: Double,
                colorBar: Bool = true, colorLabel: String? = nil) {
        self.values = values; self.rows = rows; self.cols = cols; self.colormap = colormap
        self.low = low; self.high = high; self.colorBar = colorBar; self.colorLabel = colorLabel
    }
}

/// A straight dashed line across the whole plot at one value: a dense baseline (horizontal) or a
/// pruning threshold (either way), with its own legend entry.
public struct ReferenceLine: Sendable {
    public enum Orientation: Sendable { case horizontal, vertical }
    public var value: Double
    public var label: String
    public var orientation: Orientation
    /// Index into the palette; nil draws it in the ink colour, apart from every series.
    public var style: Int?
    /// Which dash pattern (dashed, dotted, dash-dot, cycling), to tell several lines apart.
    public var dash: Int
    public init(value: Double, label: String, orientation: Orientation = .horizontal, style: Int? = nil, dash: Int = 0) {
        self.value = value; self.label = label; self.orientation = orientation; self.style = style; self.dash = dash
    }
}

/// A legend entry with a colour patch and no data of its own (the two colours of a binary mask).
public struct LegendKey: Sendable {
    public var label: String
    public var color: Color
    public init(label: String, color: Color) { self.label = label; self.color = color }
}

/// Everything a panel can draw.
public enum Mark: Sendable {
    case line(LineSeries)
    case bar(BarSeries)
    case histogram(HistogramSeries)
    case scatter(ScatterSeries)
    case heatmap(HeatmapData)
    case reference(ReferenceLine)
    case key(LegendKey)

    /// The legend label, nil for marks without a legend entry.
    var label: String? {
        switch self {
        case .line(let s): return s.label
        case .bar(let s): return s.label
        case .histogram(let s): return s.label
        case .scatter(let s): return s.label
        case .heatmap: return nil
        case .reference(let r): return r.label
        case .key(let k): return k.label
        }
    }
}

/// One set of axes with its marks.
public struct Panel: Sendable {
    public var title: String?
    public var x = Axis()
    public var y = Axis()
    public var marks: [Mark] = []
    public var legend: LegendPosition = .auto
    public var legendTitle: String?
    /// Light grid lines at the major ticks.
    public var grid: Bool = true
    /// One data unit is as long on x as on y (images, square heatmaps).
    public var equalAspect: Bool = false

    public init(title: String? = nil) { self.title = title }

    /// The labels its legend shows, in order (none when the legend is off).
    public var legendLabels: [String] { legend == .none ? [] : legendEntries.map(\.label) }

    /// The entries a legend would show, in order.
    var legendEntries: [(label: String, mark: Mark)] {
        marks.compactMap { m in m.label.flatMap { $0.isEmpty ? nil : ($0, m) } }
    }
}

/// A figure: a grid of panels with a size in inches and a resolution for raster output.
///
///     let fig = try Figure.line(rows: table, x: "keep", y: "acc", by: "method", logX: true)
///     try fig.write(to: "plots/mvp.png", source: "mvp.prune:12")
public struct Figure: Sendable {
    public var panels: [Panel]
    public var rows: Int
    public var cols: Int
    /// Size in inches.
    public var width: Double = 6.4
    public var height: Double = 4.8
    /// Pixels per inch for PNG output (vector output is resolution-free).
    public var dpi: Double = 150
    /// Base font size in points; tick labels are one point smaller, titles one larger.
    public var fontSize: Double = 10
    /// Figures are shown shrunk to a document's text column (about this wide); a wider figure
    /// draws its text larger in proportion, so that it reads there as this one would.
    public static let readableWidth = 8.0
    /// The font size the layout uses: `fontSize`, scaled up for figures wider than `readableWidth`.
    /// (Twice at most: a poster-sized figure is not meant for a column.)
    public var textSize: Double { fontSize * Swift.min(2, Swift.max(1, width / Figure.readableWidth)) }
    /// A title above all panels (for multi-panel figures).
    public var title: String?
    /// PNG with a transparent instead of a white background.
    public var transparent: Bool = false

    /// The program named in the Software metadata of written files.
    nonisolated(unsafe) public static var software = "prune"
    /// The version named with it ("prune 0.1.0"); the executable sets its own.
    nonisolated(unsafe) public static var version = "0.1.0"

    public init(panels: [Panel], rows: Int = 1, cols: Int = 1) {
        self.panels = panels
        self.rows = Swift.max(1, rows)
        self.cols = Swift.max(1, cols)
    }

    /// A one-panel figure.
    public init(_ panel: Panel) { self.init(panels: [panel]) }
}
