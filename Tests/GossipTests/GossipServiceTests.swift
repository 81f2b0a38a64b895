import Foundation
import Testing
@testable import Gossip

/// `GossipService` decisions that do not need sockets.
@Suite struct GossipServiceTests {
    private func idontwant(_ ids: [[UInt8]]) -> PBControlIDontWant {
        var w = PBControlIDontWant()
        w.messageIds = ids.map { Data($0) }
        return w
    }

    /// Only RPCs with IDONTWANT and nothing else wait for the router's next entry; anything
    /// the router must answer or act on (messages, subscriptions, IHAVE, IWANT, GRAFT, PRUNE) does not.
    @Test func onlyPureIDontWantRPCsAreDeferred() {
        var pure = PBRPC()
        pure.control.idontwant = [idontwant([[1, 2, 3]])]
        #expect(GossipService.isOnlyIDontWant(pure))

        #expect(!GossipService.isOnlyIDontWant(PBRPC()))
        var emptyControl = PBRPC()
        emptyControl.control = PBControlMessage()
        #expect(!GossipService.isOnlyIDontWant(emptyControl))

        let additions: [(String, (inout PBRPC) -> Void)] = [
            ("message", { $0.publish = [PBMessage()] }),
            ("subscription", { $0.subscriptions = [PBRPC.SubOpts()] }),
            ("IHAVE", { $0.control.ihave = [PBControlIHave()] }),
            ("IWANT", { $0.control.iwant = [PBControlIWant()] }),
            ("GRAFT", { $0.control.graft = [PBControlGraft()] }),
            ("PRUNE", { $0.control.prune = [PBControlPrune()] }),
        ]
        for (name, add) in additions {
            var rpc = pure
            add(&rpc)
            #expect(!GossipService.isOnlyIDontWant(rpc), "IDONTWANT with a \(name)")
        }
    }
}
