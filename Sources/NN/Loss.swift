// Losses: cross-entropy from logits (with label smoothing), mean squared error, and the
// temperature-scaled KL divergence used for distillation.
import Engine

public enum Loss {
    /// Mean cross-entropy of logits [B, C] against integer labels.
    public static func crossEntropy(_ logits: Tensor, _ labels: [Int], smoothing: Float = 0) throws -> Tensor {
        try logits.crossEntropy(labels: labels, smoothing: smoothing)
    }

    /// Mean squared error.
    public static func mse(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        guard prediction.shape == target.shape else {
            throw NNError("mse: prediction \(describe(shape: prediction.shape)) and target \(describe(shape: target.shape)) differ")
        }
        return try (prediction - target).square().mean()
    }

    /// T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over the batch (Hinton et al.;
    /// the T² keeps gradient magnitudes comparable across temperatures).
    public static func klDivergence(student: Tensor, teacher: Tensor, temperature t: Float = 1) throws -> Tensor {
        guard student.shape == teacher.shape, student.rank == 2 else {
            throw NNError("kl_div: student \(describe(shape: student.shape)) and teacher \(describe(shape: teacher.shape)) must both be [batch, classes]")
        }
        guard t > 0 else { throw NNError("kl_div: temperature must be positive, got \(t)") }
        let logQ = (student * (1 / t)).logSoftmax()
        let logP = (teacher.detached() * (1 / t)).logSoftmax()
        let p = logP.exp()
        let perElement = try p * (logP - logQ)
        return perElement.sum() * (t * t / Float(max(student.shape[0], 1)))
    }
}
