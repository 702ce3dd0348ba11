// Slow, obviously correct reference implementations of the layer kernels (plain loops over
// arrays, Double accumulation, no BLAS), kept beside the fast ones so tests can compare them.

/// C[m×n] = A[m×k] · B[k×n], row-major.
public func referenceMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var acc = 0.0
            for t in 0..<k { acc += Double(a[i * k + t]) * Double(b[t * n + j]) }
            c[i * n + j] = Float(acc)
        }
    }
    return c
}

/// conv2d on x [N, C, H, W] with weight [O, C, kh, kw] and optional bias [O]; zero padding.
public func referenceConv2d(_ x: [Float], _ xShape: [Int], weight: [Float], _ wShape: [Int], bias: [Float]?,
                            stride: Int, padding: Int) -> (values: [Float], shape: [Int]) {
    let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
    let (o, kh, kw) = (wShape[0], wShape[2], wShape[3])
    let hOut = (h + 2 * padding - kh) / stride + 1, wOut = (w + 2 * padding - kw) / stride + 1
    var out = [Float](repeating: 0, count: n * o * hOut * wOut)
    for img in 0..<n {
        for oc in 0..<o {
            for oy in 0..<hOut {
                for ox in 0..<wOut {
                    var acc = Double(bias?[oc] ?? 0)
                    for ic in 0..<c {
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let iy = oy * stride - padding + ki, ix = ox * stride - padding + kj
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                acc += Double(x[((img * c + ic) * h + iy) * w + ix])
                                    * Double(weight[((oc * c + ic) * kh + ki) * kw + kj])
                            }
                        }
                    }
                    out[((img * o + oc) * hOut + oy) * wOut + ox] = Float(acc)
                }
            }
        }
    }
    return (out, [n, o, hOut, wOut])
}

/// Visits every window of a k × k pooling over [N, C, H, W], passing the in-bounds values and
/// writing what `reduce` returns.
private func referencePool(_ x: [Float], _ shape: [Int], kernel k: Int, stride s: Int, padding p: Int,
                           _ reduce: ([Float]) -> Float) -> (values: [Float], shape: [Int]) {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
    let hOut = (h + 2 * p - k) / s + 1, wOut = (w + 2 * p - k) / s + 1
    var out: [Float] = []
    for plane in 0..<(n * c) {
        for oy in 0..<hOut {
            for ox in 0..<wOut {
                var window: [Float] = []
                for ki in 0..<k {
                    for kj in 0..<k {
                        let iy = oy * s - p + ki, ix = ox * s - p + kj
                        if iy >= 0, iy < h, ix >= 0, ix < w { window.append(x[(plane * h + iy) * w + ix]) }
                    }
                }
                out.append(reduce(window))
            }
        }
    }
    return (out, [n, c, hOut, wOut])
}

/// Max pooling; padding never wins.
public func referenceMaxPool2d(_ x: [Float], _ shape: [Int], kernel: Int, stride: Int, padding: Int) -> (values: [Float], shape: [Int]) {
    referencePool(x, shape, kernel: kernel, stride: stride, padding: padding) { $0.max() ?? -.infinity }
}

/// Average pooling counting the padding as zeros (divides by k² everywhere).
public func referenceAvgPool2d(_ x: [Float], _ shape: [Int], kernel: Int, stride: Int, padding: Int) -> (values: [Float], shape: [Int]) {
    referencePool(x, shape, kernel: kernel, stride: stride, padding: padding) {
        Float($0.reduce(0.0) { $0 + Double($1) } / Double(kernel * kernel))
    }
}

/// Batch norm over axis 1 of [N, C, ...]; returns the output and the running statistics after
/// the call (updated with the unbiased variance in training, unchanged in evaluation).
public func referenceBatchNorm(_ x: [Float], _ shape: [Int], weight: [Float]?, bias: [Float]?,
                               runningMean: [Float], runningVar: [Float], training: Bool,
                               momentum: Float = 0.1, eps: Float = 1e-5)
    -> (values: [Float], runningMean: [Float], runningVar: [Float]) {
    let n = shape[0], c = shape[1], s = shape[2...].reduce(1, *), m = n * s
    var out = [Float](repeating: 0, count: x.count)
    var rm = runningMean, rv = runningVar
    for ch in 0..<c {
        var values: [Double] = []
        for img in 0..<n { for i in 0..<s { values.append(Double(x[(img * c + ch) * s + i])) } }
        let mean: Double, variance: Double
        if training {
            mean = values.reduce(0, +) / Double(m)
            let sq = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            variance = sq / Double(m)
            let mom = Double(momentum)
            rm[ch] = Float((1 - mom) * Double(rm[ch]) + mom * mean)
            rv[ch] = Float((1 - mom) * Double(rv[ch]) + mom * sq / Double(m - 1))
        } else {
            mean = Double(runningMean[ch]); variance = Double(runningVar[ch])
        }
        let gamma = Double(weight?[ch] ?? 1), beta = Double(bias?[ch] ?? 0)
        for img in 0..<n {
            for i in 0..<s {
                let j = (img * c + ch) * s + i
                out[j] = Float((Double(x[j]) - mean) / (variance + Double(eps)).squareRoot() * gamma + beta)
            }
        }
    }
    return (out, rm, rv)
}

/// Layer norm over the last axis (size `d`).
public func referenceLayerNorm(_ x: [Float], d: Int, weight: [Float]?, bias: [Float]?, eps: Float = 1e-5) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for r in 0..<(x.count / d) {
        let row = (0..<d).map { Double(x[r * d + $0]) }
        let mean = row.reduce(0, +) / Double(d)
        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
        for i in 0..<d {
            let y = (row[i] - mean) / (variance + Double(eps)).squareRoot()
            out[r * d + i] = Float(y * Double(weight?[i] ?? 1) + Double(bias?[i] ?? 0))
        }
    }
    return out
}
