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

    /// Where validators run: `.automatic` keeps a validation on the router's thread only while
    /// nothing else is being validated and the message is small; the forced placements ignore load.
    @Test func validatorPlacementRule() {
        typealias S = GossipService
        let idle = (batch: 0, pool: 0, blockCores: 0)
        #expect(S.validatesOnRouterThread(.automatic, size: 100_000, busy: idle, cores: 2))
        #expect(S.validatesOnRouterThread(.automatic, size: S.inlineValidationLimit, busy: idle, cores: 1))
        #expect(!S.validatesOnRouterThread(.automatic, size: S.inlineValidationLimit + 1, busy: idle, cores: 2))
        #expect(!S.validatesOnRouterThread(.automatic, size: 100, busy: (1, 0, 0), cores: 2))   // one already kept in this batch
        #expect(!S.validatesOnRouterThread(.automatic, size: 100, busy: (0, 1, 0), cores: 2))   // one of ours on the pool
        #expect(S.validatesOnRouterThread(.automatic, size: 100, busy: (0, 0, 1), cores: 2))    // e.g. a speculative hash
        #expect(!S.validatesOnRouterThread(.automatic, size: 100, busy: (0, 0, 2), cores: 2))   // every core validating
        #expect(!S.validatesOnRouterThread(.automatic, size: 100, busy: (0, 0, 1), cores: 1))
        for busy in [idle, (batch: 3, pool: 5, blockCores: 9)] {
            for size in [0, 10 << 20] {
                #expect(!S.validatesOnRouterThread(.pool, size: size, busy: busy, cores: 2))
                #expect(S.validatesOnRouterThread(.routerThread, size: size, busy: busy, cores: 2))
            }
        }
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
