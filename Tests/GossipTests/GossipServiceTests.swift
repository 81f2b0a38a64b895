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

    /// The bounded "recently unwanted" set: FIFO eviction at capacity, duplicates not re-added.
    @Test func recentIDsKeepTheLastDistinctIDs() {
        var r = RecentIDs(capacity: 3)
        for i in 0..<3 { r.insert([UInt8(i)]) }
        r.insert([1])  // already there: nothing evicted
        #expect(r.count == 3 && r.contains([0]) && r.contains([1]) && r.contains([2]))
        r.insert([3])  // evicts the oldest, [0]
        #expect(!r.contains([0]) && r.contains([3]) && r.count == 3)
        r.insert([4]); r.insert([5])
        #expect(!r.contains([1]) && !r.contains([2]) && r.contains([4]) && r.contains([5]))
        #expect(r.containsAll([MessageID([3]), MessageID([5])]))
        #expect(!r.containsAll([MessageID([3]), MessageID([9])]))
        for i in 0..<1000 { r.insert([UInt8(i % 251), UInt8(i / 251)]) }
        #expect(r.count == 3)
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
