// Datasets as values of the language: `data.count`, `data.classes`, `data.images`, `data[i]`
// (a record {x, y}), `len(data)`, and the summary the prompt shows.
import Language
import FileIO
import Engine
import Data

extension Value {
    /// A dataset as a value of the language.
    public static func dataset(_ d: Dataset) -> Value { .object(d) }
}

extension Dataset: ScriptObject {
    public var scriptTypeName: String { "dataset" }
    public var scriptDisplay: String {
        "Dataset \(name): \(thousands(count)) samples, \(classes) classes, shape \(describe(shape: sampleShape))"
    }
    public var scriptInlineDisplay: String { "<dataset \(name), \(thousands(count)) samples>" }
    public var scriptFieldNames: [String] { ["name", "count", "classes", "shape", "images", "labels", "class_names"] }

    public func scriptField(_ field: String) throws -> Value? {
        switch field {
        case "name": return .string(name)
        case "count": return .number(Double(count))
        case "classes": return .number(Double(classes))
        case "shape": return .list(ListRef(sampleShape.map { .number(Double($0)) }))
        case "images": return .tensor(images)
        case "labels": return .list(ListRef(labels.map { .number(Double($0)) }))
        case "class_names": return .list(ListRef(classNames.map { .string($0) }))
        default: return nil
        }
    }

    /// `data[i]`: sample `i` as a record `{x: tensor, y: label}`.
    public func scriptIndex(_ subs: [IndexArgument]) throws -> Value? {
        guard subs.count == 1 else { throw BuiltinError("a dataset takes one index, got \(subs.count)") }
        guard case .at(let v) = subs[0] else { return nil }
        let i = try Indexing.position(v, count, "a dataset")
        let (x, y) = try gather([i])
        return .record(RecordRef([("x", .tensor(try x.reshaped(sampleShape))), ("y", .number(Double(y.first ?? 0)))]))
    }

    public func scriptLength() throws -> Int? { count }
}
