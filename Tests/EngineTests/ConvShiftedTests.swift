// The direct stride-1 convolution (Kernels/ConvShifted.swift): both instruction paths against
// the reference loops and against im2col's column matrix times the weight, on odd shapes
// (output channel counts from 1 to 23: alone, in pairs, and split into blocks of three to eight;
// outputs narrower than a tile).
import Testing
import TestSupport
import Kernels
import KernelsAVX512
@testable import Engine

private let shiftedCases: [ConvCase] = [
    ConvCase(n: 1, c: 1, h: 28, w: 28, o: 6, k: 5, stride: 1, padding: 2, bias: true),
    ConvCase(n: 1, c: 6, h: 14, w: 14, o: 16, k: 5, stride: 1, padding: 0, bias: true),
    ConvCase(n: 3, c: 2, h: 5, w: 7, o: 3, k: 3, stride: 1, padding: 1, bias: false),
    ConvCase(n: 2, c: 5, h: 3, w: 3, o: 9, k: 3, stride: 1, padding: 0, bias: true),
    ConvCase(n: 1, c: 3, h: 9, w: 4, o: 5, k: 1, stride: 1, padding: 0, bias: true),
    ConvCase(n: 2, c: 1, h: 4, w: 6, o: 1, k: 3, stride: 1, padding: 2, bias: true),
    ConvCase(n: 1, c: 64, h: 7, w: 7, o: 8, k: 3, stride: 1, padding: 1, bias: false),
    ConvCase(n: 2, c: 2, h: 6, w: 6, o: 2, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 1, c: 3, h: 10, w: 9, o: 7, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 1, c: 5, h: 14, w: 14, o: 12, k: 5, stride: 1, padding: 0, bias: true),
    ConvCase(n: 2, c: 4, h: 8, w: 8, o: 23, k: 3, stride: 1, padding: 1, bias: false),
]

@Test(arguments: shiftedCases)
func convShiftedMatchesReferenceAndIm2col(_ cs: ConvCase) throws {
    let x = try rand(cs.xShape, seed: 4), w = try rand(cs.wShape, seed: 5, scale: 0.3), b = try rand([cs.o], seed: 6)
    let ref = referenceConv2d(x.array, x.shape, weight: w.array, w.shape, bias: cs.bias ? b.array : nil,
                              stride: 1, padding: cs.padding)
    // im2col's column matrix [C·k·k, N·P] times the weight [O, C·k·k], rearranged to NCHW.
    let outH = cs.h + 2 * cs.padding - cs.k + 1, outW = cs.w + 2 * cs.padding - cs.k + 1, plane = outH * outW
    let terms = cs.c * cs.k * cs.k
    var cols = [Float](repeating: 0, count: terms * cs.n * plane)
    cols.withUnsafeMutableBufferPointer { col in
        im2col(x.data, batch: cs.n, channels: cs.c, height: cs.h, width: cs.w, kernelH: cs.k, kernelW: cs.k, stride: 1,
               padding: cs.padding, outH: outH, outW: outW, col.baseAddress!)
    }
    let product = referenceMatmul(w.array, cols, m: cs.o, k: terms, n: cs.n * plane)
    var viaColumns = [Float](repeating: 0, count: cs.n * cs.o * plane)
    for img in 0..<cs.n {
        for o in 0..<cs.o {
            for q in 0..<plane {
                viaColumns[(img * cs.o + o) * plane + q] = product[o * cs.n * plane + img * plane + q] + (cs.bias ? b.array[o] : 0)
            }
        }
    }
    var paths: [(String, ShiftedProductKernel)] = [("avx2", shiftedProduct8)]
    if AVX512.available { paths.append(("avx512", shiftedProduct16)) }
    for (name, kernel) in paths {
        let out = try Tensor.empty([cs.n, cs.o, outH, outW])
        convShifted(x.data, batch: cs.n, channels: cs.c, height: cs.h, width: cs.w, w.data, outChannels: cs.o, kernelH: cs.k,
                    kernelW: cs.k, padding: cs.padding, bias: cs.bias ? b.data : nil, out.data, product: kernel)
        assertClose(out.array, ref.values, atol: 1e-4, "\(name) against the reference, \(cs.testDescription)")
        assertClose(out.array, viaColumns, atol: 1e-4, "\(name) against im2col, \(cs.testDescription)")
    }
    // conv2d at this batch takes the direct path and keeps its gradient.
    let y = try Tensor.conv2d(x, weight: w, bias: cs.bias ? b : nil, padding: cs.padding)
    assertClose(y.array, ref.values, atol: 1e-4, "conv2d \(cs.testDescription)")
}
