// Reverse-mode autodiff: every recorded op keeps its inputs and a closure that maps the output's
// gradient to its inputs' gradients; backward() runs them in reverse topological order.

/// How a recorded tensor was made.
final class Node {
    let op: String
    let inputs: [Tensor]
    /// Maps the output gradient to one gradient per input (nil where not needed).
    let backward: (Tensor) -> [Tensor?]
    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op; self.inputs = inputs; self.backward = backward
    }
}

/// Whether operations are recorded for autodiff on the current task.
public enum GradMode {
    @TaskLocal static var enabled = true

    /// Whether recording is on here.
    public static var isEnabled: Bool { enabled }

    /// Runs `body` without recording operations (evaluation, optimizer updates).
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $enabled.withValue(false, operation: body)
    }
}

extension Tensor {
    /// Builds the output of an op, recording it when any input requires a gradient.
    /// `backward` receives the output gradient and returns one gradient per input, of the input's
    /// shape, or nil for inputs that do not require one.
    /// The name is built only when the op is recorded: formatting it on every call (an enum
    /// case through reflection) cost more than a small layer's arithmetic in evaluation.
    /// The inputs and the backward closure are built only then too: when nothing records
    /// (evaluation), allocating the array and the closure's captures cost more at batch 1 than
    /// a small layer's arithmetic.
    @inline(__always)
    static func record(_ op: @autoclosure () -> String, _ out: Tensor, _ inputs: @autoclosure () -> [Tensor],
                       _ backward: @autoclosure () -> (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.enabled else { return out }
        let inputs = inputs()
        if inputs.contains(where: { $0.requiresGrad }) {
            out.requiresGrad = true
            out.node = Node(op: op(), inputs: inputs, backward: backward())
        }
        return out
    }

    /// An operation computed outside the engine (NN's sparse layers): `out` was computed from
    /// `inputs`, and `backward` maps its gradient to one per input, as for the engine's own ops.
    public static func recorded(_ op: String, _ out: Tensor, inputs: @autoclosure () -> [Tensor],
                                backward: @autoclosure () -> (Tensor) -> [Tensor?]) -> Tensor {
        record(op, out, inputs(), backward())
    }

    /// Computes gradients of this tensor with respect to every leaf that requires one, adding them
    /// into the leaves' `grad`. A non-scalar output needs an explicit `gradient` of its shape.
    /// The recorded graph is released afterwards.
    public func backward(_ gradient: Tensor? = nil) throws {
        guard requiresGrad else {
            throw EngineError("backward() on a tensor that does not require a gradient (was it computed with gradient recording off, or from tensors that need none?)")
        }
        let seed: Tensor
        if let g = gradient {
            guard g.shape == shape else {
                throw EngineError("backward() gradient has shape \(describe(shape: g.shape)), expected \(describe(shape: shape))")
            }
            seed = g
        } else {
            guard count == 1 else {
                throw EngineError("backward() without a gradient needs a scalar, got shape \(describe(shape: shape))")
            }
            seed = Tensor(like: self, repeating: 1)
        }
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        // How many gradients waiting in `grads` carry each storage (a backward may pass its
        // incoming gradient on, to several inputs, or as a reshaped view). A leaf may keep its
        // gradient as its own only when no other waiting gradient shares the storage and nothing
        // else refers to the tensor; the seed is the caller's, so it counts one extra throughout.
        var carriers: [ObjectIdentifier: Int] = [ObjectIdentifier(seed.storage): 2]
        GradMode.noGrad {
            for t in order.reversed() {
                guard var g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                let id = ObjectIdentifier(g.storage)
                let sharers = carriers[id] ?? 0
                carriers[id] = sharers - 1
                guard let node = t.node else {
                    let owned = sharers == 1 && isKnownUniquelyReferenced(&g)
                    t.accumulate(g, owned: owned)
                    continue
                }
                let inputGrads = node.backward(g)
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.requiresGrad else { continue }
                    let key = ObjectIdentifier(input)
                    var stored = ig
                    if let prev = grads[key] {
                        stored = prev.adding(ig)
                        carriers[ObjectIdentifier(prev.storage), default: 0] -= 1
                    }
                    grads[key] = stored
                    carriers[ObjectIdentifier(stored.storage), default: 0] += 1
                }
            }
        }
        for t in order where t.node != nil { t.node = nil; t.requiresGrad = false }
    }

    /// Adds `g` into `grad`. The first gradient becomes `grad` itself when `owned` (nothing else
    /// refers to its storage), and is copied otherwise: backward passes may hand the same tensor
    /// (or a view of it, or the caller's seed) to several inputs, and optimizers and clipping
    /// update `grad` in place, so gradients must never alias. Owning saves a pass over every
    /// parameter per step.
    func accumulate(_ g: Tensor, owned: Bool = false) {
        let g = g.shape == shape ? g : g.reshaped(unchecked: shape)
        grad = grad.map { $0.adding(g) } ?? (owned ? g : g.copy())
    }

    /// Every tensor reachable from this one through recorded nodes, inputs before outputs.
    func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            for input in t.node?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }

    /// Clears the gradient.
    public func zeroGrad() { grad = nil }
}
