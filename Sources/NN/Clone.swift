// Deep copies of models: the same structure with copied parameters, buffers and masks.
import Engine
import FileIO

extension Module {
    /// A structurally identical model with copied parameters, buffers, masks and scores, for
    /// every layer type `ModuleCodec` knows. The copy is in the same training mode.
    public func clone() throws -> Module {
        let copy: Module
        do {
            copy = try ModuleCodec.build(try ModuleCodec.describe(self), rng: RNG(seed: 0), dropoutRNG: RNG(seed: 0))
        } catch let e as LibraryError {
            throw NNError("copying a model of type \(typeName) is not supported yet (\(e.message))")
        }
        let src = namedParameters() + namedBuffers(), dst = copy.namedParameters() + copy.namedBuffers()
        guard src.count == dst.count, zip(src, dst).allSatisfy({ $0.0 == $1.0 }) else {
            throw NNError("copying a model of type \(typeName) is not supported yet")
        }
        for (a, b) in zip(src, dst) {
            try b.1.assign(a.1)
            b.1.requiresGrad = a.1.requiresGrad
        }
        for (name, g) in namedGates() {
            try copy.setGate(g.copy(), for: name)
        }
        copy.train(training)
        return copy
    }
}
