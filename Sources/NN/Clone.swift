// Deep copies of models: the same structure with copied parameters, buffers and masks.
import Engine

extension Module {
    /// A structurally identical model with copied parameters, buffers, masks and scores, for
    /// the layer types that can be rebuilt from their sizes (everything `Models` builds except
    /// the ViT). The copy is in the same training mode.
    public func clone() throws -> Module {
        guard let copy = Module.rebuild(self) else {
            throw EngineError("copying a model of type \(typeName) is not supported yet")
        }
        let src = namedParameters() + namedBuffers(), dst = copy.namedParameters() + copy.namedBuffers()
        guard src.count == dst.count, zip(src, dst).allSatisfy({ $0.0 == $1.0 }) else {
            throw EngineError("copying a model of type \(typeName) is not supported yet")
        }
        for (a, b) in zip(src, dst) {
            try b.1.assign(a.1)
            b.1.requiresGrad = a.1.requiresGrad
        }
        for (name, g) in namedGates() {
            let c = WeightGate(kind: g.kind, mask: g.mask.copy(), scores: g.scores.map { $0.copy().requiringGrad($0.requiresGrad) }, method: g.method)
            c.frozen = g.frozen; c.requestedSparsity = g.requestedSparsity
            c.rng = g.rng.map { RNG(seed: $0.next()) }
            try copy.setGate(c, for: name)
        }
        copy.train(training)
        return copy
    }

    /// A fresh module of the same structure, or nil for layer types it does not know.
    static func rebuild(_ m: Module) -> Module? {
        let rng = RNG(seed: 0)
        switch m {
        case let s as Sequential:
            var layers: [Module] = []
            for l in s.layers { guard let c = rebuild(l) else { return nil }; layers.append(c) }
            return Sequential(layers)
        case let l as ModuleList:
            var modules: [Module] = []
            for x in l.modules { guard let c = rebuild(x) else { return nil }; modules.append(c) }
            return ModuleList(modules)
        case let r as Residual:
            guard let body = rebuild(r.body) else { return nil }
            if let s = r.shortcut {
                guard let sc = rebuild(s) else { return nil }
                return Residual(body, shortcut: sc)
            }
            return Residual(body)
        case let l as Linear: return Linear(l.inFeatures, l.outFeatures, bias: l.bias != nil, rng: rng)
        case let c as Conv2d:
            return Conv2d(c.inChannels, c.outChannels, kernel: c.kernel, stride: c.stride, padding: c.padding, bias: c.bias != nil, rng: rng)
        case let b as BatchNorm: return BatchNorm(b.features, momentum: b.momentum, eps: b.eps)
        case let n as LayerNorm: return LayerNorm(n.features, eps: n.eps)
        case let p as MaxPool2d: return MaxPool2d(p.kernel, stride: p.stride, padding: p.padding)
        case let p as AvgPool2d: return AvgPool2d(p.kernel, stride: p.stride, padding: p.padding)
        case is GlobalAvgPool: return GlobalAvgPool()
        case let b as BasicBlock: return BasicBlock(b.conv1.inChannels, b.conv1.outChannels, stride: b.conv1.stride, rng: rng)
        case let a as Activation: return Activation(a.kind)
        case is Flatten: return Flatten()
        case let d as Dropout: return Dropout(d.p, rng: rng)
        default: return nil
        }
    }
}
