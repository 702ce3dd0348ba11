// Per-layer densities for global sparsity targets: the Erdős–Rényi(-kernel) distribution of
// RigL (Evci et al., arXiv 1911.11134), which keeps more of the layers with fewer weights.

/// Per-layer kept fractions for the Erdős–Rényi(-kernel) distribution: density_l ∝ (sum of the shape's dims)/(product of the dims) (for a Linear [out, in]: (in+out)/(in·out); for a conv [out, in, kh, kw]: (out+in+kh+kw)/(out·in·kh·kw)), scaled so that Σ density_l·n_l = keep·Σ n_l; a layer whose density would exceed 1 is kept dense (1) and the others rescaled, repeatedly, until none exceeds 1.
///
/// Capping a layer frees more of the budget than it used (its share ε·raw·n was above n), so the
/// scale only grows: every layer over 1 can be capped at once, and a layer below 1 may cross 1
/// at the next scale, hence the repetition (at most one round per layer; some layer always stays
/// under 1 while keep < 1). Edge cases, so that a caller never has to guard: a shape with a zero
/// (or negative) dim has no weights and gets 1; a shape with no dims is a single weight, like
/// [1]; keep ≥ 1 (or NaN) keeps everything; keep ≤ 0 gives 0 to every layer with weights; no
/// shapes give no densities. Computed in Double (the products of dims may pass Int's range).
public func erkDensities(shapes: [[Int]], keep: Double) -> [Double] {
    var density = [Double](repeating: 1, count: shapes.count)
    guard keep < 1 else { return density }
    // Weights and the unscaled density, sum of dims / product of dims, of each layer with weights.
    var weights = [Double](repeating: 0, count: shapes.count), raw = weights
    var sparse = [Int]()
    for (l, shape) in shapes.enumerated() {
        let dims = shape.isEmpty ? [1] : shape
        if dims.contains(where: { $0 <= 0 }) { continue }
        let product = dims.reduce(1.0) { $0 * Double($1) }
        weights[l] = product
        raw[l] = dims.reduce(0.0) { $0 + Double($1) } / product
        sparse.append(l)
    }
    guard keep > 0 else {
        for l in sparse { density[l] = 0 }
        return density
    }
    // What the layers not capped must keep between them.
    var budget = keep * weights.reduce(0, +)
    while !sparse.isEmpty {
        let scale = budget / sparse.reduce(0.0) { $0 + raw[$1] * weights[$1] }
        let over = sparse.filter { scale * raw[$0] > 1 }
        if over.isEmpty {
            for l in sparse { density[l] = min(1, max(0, scale * raw[l])) }
            break
        }
        for l in over { budget -= weights[l] }
        sparse.removeAll { scale * raw[$0] > 1 }
    }
    return density
}
