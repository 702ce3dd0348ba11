// Losses against hand computations in Double, and their gradients against finite differences.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

/// log-softmax of one row, in Double.
private func logSoftmax(_ row: [Double]) -> [Double] {
    let m = row.max()!
    let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
    return row.map { $0 - lse }
}

private func rows(_ t: Tensor) throws -> [[Double]] {
    let c = t.shape[1]
    return (0..<t.shape[0]).map { r in (0..<c).map { Double(t.data[r * c + $0]) } }
}

@Suite struct LossTests {
    // MARK: Cross-entropy

    @Test(arguments: [Float(0), 0.1, 0.3])
    func crossEntropyMatchesHandComputation(smoothing: Float) throws {
        let logits = try rand([3, 4], seed: 1, scale: 2)
        let labels = [2, 0, 3]
        var expected = 0.0
        let eps = Double(smoothing), c = 4.0
        for (r, row) in try rows(logits).enumerated() {
            let lp = logSoftmax(row)
            // Target: 1 − ε on the label plus ε/C on every class.
            for j in 0..<4 {
                let target = (j == labels[r] ? 1 - eps : 0) + eps / c
                expected -= target * lp[j]
            }
        }
        expected /= 3
        let loss = try Loss.crossEntropy(logits, labels, smoothing: smoothing)
        #expect(loss.shape == [])
        assertClose([loss.item], [Float(expected)], atol: 1e-6, rtol: 1e-5, "cross-entropy ε=\(smoothing)")
        try gradCheck([logits], eps: 1e-2, atol: 1e-3, rtol: 1e-2, "cross-entropy ε=\(smoothing)") { x in
            try Loss.crossEntropy(x[0], labels, smoothing: smoothing)
        }
    }

    @Test func crossEntropyOfAConfidentCorrectPredictionIsSmall() throws {
        let logits = try Tensor(shape: [2, 3], data: [20, 0, 0, 0, 0, 20])
        #expect(try Loss.crossEntropy(logits, [0, 2]).item < 1e-6)
        // Uniform logits give log C whatever the label.
        assertClose([try Loss.crossEntropy(try Tensor.zeros([2, 5]), [1, 4]).item], [Float(log(5.0))], "uniform")
        // With smoothing, even a perfect prediction keeps a floor: ε/C·Σ of the off-label log-probs.
        #expect(try Loss.crossEntropy(logits, [0, 2], smoothing: 0.1).item > 0.5)
    }

    @Test func crossEntropyErrors() throws {
        expectError(["cross_entropy", "labels", "3"]) { _ = try Loss.crossEntropy(rand([3, 4]), [0, 1]) }
        expectError(["cross_entropy", "label 4", "4 classes"]) { _ = try Loss.crossEntropy(rand([2, 4]), [0, 4]) }
        expectError(["cross_entropy", "[2, 3, 4]"]) { _ = try Loss.crossEntropy(rand([2, 3, 4]), [0, 1]) }
        expectError(["smoothing"]) { _ = try Loss.crossEntropy(rand([2, 4]), [0, 1], smoothing: 1) }
    }

    // MARK: Mean squared error

    @Test func mseMatchesHandComputation() throws {
        let p = try rand([2, 3], seed: 2), t = try rand([2, 3], seed: 3)
        let expected = zip(p.array, t.array).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / 6
        let loss = try Loss.mse(p, t)
        #expect(loss.shape == [])
        assertClose([loss.item], [Float(expected)], atol: 1e-6, rtol: 1e-5, "mse")
        #expect(try Loss.mse(p, p).item == 0)
        // d/dp = 2(p − t)/n.
        p.requiresGrad = true
        try Loss.mse(p, t).backward()
        assertClose(p.grad!.array, zip(p.array, t.array).map { 2 * ($0 - $1) / 6 }, "mse gradient")
        p.grad = nil
        try gradCheck([p, t], eps: 1e-2, atol: 1e-3, rtol: 1e-2, "mse") { x in try Loss.mse(x[0], x[1]) }
    }

    @Test func mseShapeMismatch() throws {
        expectError(["mse", "[2, 3]", "[3, 2]"]) { _ = try Loss.mse(rand([2, 3]), rand([3, 2])) }
    }

    // MARK: KL divergence for distillation

    /// T² · Σ_rows Σ_j p_j (log p_j − log q_j) / B with p = softmax(teacher/T), q = softmax(student/T).
    private func handKL(_ student: Tensor, _ teacher: Tensor, _ t: Double) throws -> Double {
        var total = 0.0
        for (s, te) in zip(try rows(student), try rows(teacher)) {
            let lq = logSoftmax(s.map { $0 / t }), lp = logSoftmax(te.map { $0 / t })
            for j in 0..<s.count { total += exp(lp[j]) * (lp[j] - lq[j]) }
        }
        return t * t * total / Double(student.shape[0])
    }

    @Test(arguments: [Float(1), 2, 4])
    func klDivergenceMatchesHandComputation(temperature: Float) throws {
        let student = try rand([3, 5], seed: 4, scale: 2), teacher = try rand([3, 5], seed: 5, scale: 2)
        let kl = try Loss.klDivergence(student: student, teacher: teacher, temperature: temperature)
        #expect(kl.shape == [])
        let expected = try handKL(student, teacher, Double(temperature))
        #expect(expected > 0.01, "the test needs distinct distributions")
        assertClose([kl.item], [Float(expected)], atol: 1e-6, rtol: 1e-4, "KL T=\(temperature)")
    }

    @Test func klDivergenceIsZeroWhenStudentEqualsTeacher() throws {
        let logits = try rand([4, 6], seed: 6, scale: 3)
        for t: Float in [1, 3] {
            let kl = try Loss.klDivergence(student: logits, teacher: logits.copy(), temperature: t)
            #expect(Swift.abs(kl.item) < 1e-6, "KL(p‖p) = \(kl.item) at T=\(t)")
        }
    }

    @Test(arguments: [Float(1), 3])
    func klDivergenceGradientWithRespectToStudent(temperature: Float) throws {
        let student = try rand([2, 4], seed: 7, scale: 2), teacher = try rand([2, 4], seed: 8, scale: 2)
        try gradCheck([student], eps: 1e-2, atol: 1e-3, rtol: 1e-2, "KL T=\(temperature)") { x in
            try Loss.klDivergence(student: x[0], teacher: teacher, temperature: temperature)
        }
        // Closed form: ∂/∂s = T·(q − p)/B.
        student.grad = nil
        try Loss.klDivergence(student: student, teacher: teacher, temperature: temperature).backward()
        let t = Double(temperature)
        var expected = [Float]()
        for (s, te) in zip(try rows(student), try rows(teacher)) {
            let q = logSoftmax(s.map { $0 / t }).map(exp), p = logSoftmax(te.map { $0 / t }).map(exp)
            expected += zip(q, p).map { Float(t * ($0 - $1) / 2) }
        }
        assertClose(student.grad!.array, expected, atol: 1e-6, rtol: 1e-4, "KL closed-form gradient")
    }

    @Test func klDivergenceDoesNotTrainTheTeacher() throws {
        let student = try rand([2, 3], seed: 9).requiringGrad(), teacher = try rand([2, 3], seed: 10).requiringGrad()
        try Loss.klDivergence(student: student, teacher: teacher, temperature: 2).backward()
        #expect(student.grad != nil)
        #expect(teacher.grad == nil, "the teacher's logits are detached")
    }

    @Test func klDivergenceErrors() throws {
        expectError(["kl_div", "[2, 3]", "[2, 4]"]) { _ = try Loss.klDivergence(student: rand([2, 3]), teacher: rand([2, 4])) }
        expectError(["kl_div", "[6]"]) { _ = try Loss.klDivergence(student: rand([6]), teacher: rand([6])) }
        expectError(["kl_div", "temperature", "0"]) {
            _ = try Loss.klDivergence(student: rand([2, 3]), teacher: rand([2, 3]), temperature: 0)
        }
    }
}
