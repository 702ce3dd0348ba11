// The library's errors worded the language's way: below the language they name Swift calls
// (UnitGate.insert, keepMask); the bindings give the script's keywords and builtins back.
import Testing
import FileIO
import NN
import Pruning
@testable import Language
@testable import Bindings

@Suite struct ScriptWordingTests {
    @Test func methodsNameTheBuiltinThatInsertsTheirLayers() {
        let cases: [(String, String, String, String)] = [
            ("gates", "unit gates", "UnitGate.insert(_:)", "gates trains the unit gates that gates(net) inserts; this model has none"),
            ("basis", "bases", "BasisLayer.rewrite(_:)", "basis pruning removes the bases that basis(net) makes; this model has none"),
            ("channel_scaling", "channel scales", "ChannelScale.insert(_:)",
             "channel_scaling trains the scales that channel_scales(net) inserts; this model has none"),
        ]
        for (method, layers, call, script) in cases {
            let e = PruningError.missingLayers(method: method, layers: layers, insertedBy: call)
            #expect(e.description.contains(call) && !e.description.contains("(net)"))
            #expect(e.scriptMessage == script)
        }
        let cap = PruningError.prunesOnceFromData(method: "cap")
        #expect(!cap.description.contains("=") && cap.description.contains("pruneOnce"))
        #expect(cap.scriptMessage == "cap prunes once, from data: use prune(net, p, data) or schedule=\"oneshot\" with data")
    }

    @Test func diffPruningOfAMaskedModelNamesKeepMask() {
        let e = TransferError.diffOfMaskedModel
        #expect(!e.description.contains("keep_mask="))
        #expect(e.scriptMessage.hasSuffix("transfer with keep_mask=false"))
    }

    @Test func anUnsupportedPoolingNamesTheKeyword() {
        let e = NNError("f/config.json: unsupported pooling max (prune pools by mean or [CLS]; pass the pooling, .mean or .cls)",
                        kind: .unsupportedPooling(file: "f/config.json", mode: "max"))
        #expect(!e.message.contains("pooling="))
        #expect(e.scriptMessage == "f/config.json: unsupported pooling max (prune pools by mean or [CLS]; pass pooling=\"mean\" or \"cls\")")
        // The language shows a LibraryError in its script wording.
        #expect(e.scriptText == e.scriptMessage)
        #expect(FileError("x").scriptText == "x")
    }
}
