// The training progress line's estimate of the time left: the whole run at its pace so far,
// not only the epoch under way.
import Testing
@testable import NN

@Suite struct ProgressTests {
    @Test func timeLeftCoversEveryEpoch() {
        // Half of epoch 1 of 4 in 10 s: 3.5 epochs of 20 s are left.
        #expect(ProgressLine.runLeft(epoch: 1, of: 4, done: 500, total: 1000, runElapsed: 10) == 70)
        // All of epoch 2 of 4 in 50 s (validation included): 2 epochs of 25 s.
        #expect(ProgressLine.runLeft(epoch: 2, of: 4, done: 1000, total: 1000, runElapsed: 50) == 50)
        // The last sample of the last epoch: nothing left.
        #expect(ProgressLine.runLeft(epoch: 3, of: 3, done: 1000, total: 1000, runElapsed: 30) == 0)
        // Nothing seen yet: no estimate rather than a division by zero.
        #expect(ProgressLine.runLeft(epoch: 1, of: 3, done: 0, total: 1000, runElapsed: 0) == 0)
    }
}
