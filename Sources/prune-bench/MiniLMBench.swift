// The MiniLM workload: all-MiniLM-L6-v2 fine-tuned as a sequence classifier (mean pooling,
// dropout, a Linear head to 2 classes) with AdamW, batch 32, sequences of 64 token ids padded
// with [PAD] (lengths 40–64). scripts/bench_torch.py trains the same model on the same ids.
import Data
import Engine
import NN

/// The benchmark's token ids [n, 64] and labels; bench_torch.py's `minilm_batch_data` makes
/// the same ones.
func minilmData(samples n: Int, tokens t: Int = 64) throws -> Dataset {
    var ids = [Float](repeating: 0, count: n * t)
    for s in 0..<n {
        let length = 40 + (s * 37) % 25
        ids[s * t] = 101
        for j in 1..<(length - 1) { ids[s * t + j] = Float(1000 + (s * 131 + j * 7919) % 29000) }
        ids[s * t + length - 1] = 102
    }
    return try Dataset(name: "minilm-bench", images: try Tensor(shape: [n, t], data: ids), labels: (0..<n).map { $0 % 2 })
}

/// Training samples per second over `steps` timed steps (after 3 untimed ones), in order
/// (no shuffle), as the PyTorch side.
func minilmBench(steps: Int) throws {
    let folder = try Pretrained.folder(of: try Pretrained.model("minilm"))
    let encoder = try BertModel.load(folder: folder, pooling: .mean, dropoutRNG: RNG(seed: 1))
    let model = try Models.bertClassifier(encoder, classes: 2, rng: RNG(seed: 0), dropoutRNG: RNG(seed: 2))
    let batch = 32
    var config = TrainConfig(epochs: 1, batchSize: batch)
    config.progress = false
    config.shuffle = false
    let warm = try minilmData(samples: 3 * batch)
    try fit(model, on: warm, optimizer: try Optimizer(.adamw(), parameters: model.namedParameters(), lr: 2e-5, weightDecay: 0.01), config: config)
    let data = try minilmData(samples: steps * batch)
    let opt = try Optimizer(.adamw(), parameters: model.namedParameters(), lr: 2e-5, weightDecay: 0.01)
    let flops0 = BLAS.flops
    let history = try fit(model, on: data, optimizer: opt, config: config)
    let rec = history.epochs[0]
    emit("minilm", "train_samples_per_s", rec.samplesPerSecond, digits: 1)
    emit("minilm", "linear_gflops", Double(BLAS.flops - flops0) / rec.seconds / 1e9, digits: 1)
}
