import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Seen cache, message cache windows, backoff table, promises, subscription filter.
@Suite struct RouterCacheTests {
    typealias F = RouterFixture
    let t = RouterFixture.topic

    func id(_ i: Int) -> MessageID { MessageID(withUnsafeBytes(of: UInt64(i)) { [UInt8]($0) }) }

    @Test func seenCacheExpiresAfterTTLAndIsBounded() {
        var s = SeenCache(ttl: 65 * F.second, capacity: 3)
        let fresh = s.insert(id(1), now: 0)
        let again = s.insert(id(1), now: 10 * F.second)
        #expect(fresh)
        #expect(!again, "duplicate inside the TTL")
        #expect(s.contains(id(1), now: 65 * F.second - 1))
        #expect(!s.contains(id(1), now: 65 * F.second), "first-seen TTL: not refreshed by the duplicate")
        let afterExpiry = s.insert(id(1), now: 66 * F.second)
        #expect(afterExpiry, "seen again after expiry")
        s.insert(id(2), now: 66 * F.second)
        s.insert(id(3), now: 66 * F.second)
        s.insert(id(4), now: 66 * F.second)
        #expect(s.count == 3)
        #expect(!s.contains(id(1), now: 66 * F.second), "oldest evicted at capacity")
        #expect(s.contains(id(4), now: 66 * F.second))
        s.sweep(now: 200 * F.second)
        #expect(s.count == 0)
    }

    @Test func routerDedupesBySeenCacheUntilTTL() throws {
        var r = try F.router(1)
        let b = F.peer(2), c = F.peer(3)
        _ = try r.join(t, now: 0)
        for p in [b, c] {
            _ = r.addPeer(p, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: p, rpc: F.subscribe(t), now: 0)
        }
        let first = r.handleRPC(from: b, rpc: F.message([1, 2]), now: F.second)
        #expect(first.validations.count == 1)
        let dup = r.handleRPC(from: c, rpc: F.message([1, 2]), now: 2 * F.second)
        #expect(dup.validations.isEmpty)
        #expect(dup.traces.contains(.duplicateMessage(id: MessageID([1, 2]), topic: t, from: c)))
        // Still a duplicate while pending validation and after; new again after the 65 s TTL.
        _ = r.deliverValidationResult(MessageID([1, 2]), outcome: .accept, now: 2 * F.second)
        #expect(r.handleRPC(from: c, rpc: F.message([1, 2]), now: 65 * F.second).validations.isEmpty)
        #expect(r.handleRPC(from: c, rpc: F.message([1, 2]), now: 67 * F.second).validations.count == 1)
    }

    @Test func messageCacheWindows() {
        let peer = F.peer(9)
        var m = MessageCache(historyGossip: 3, historyLength: 5)
        var msg = PBMessage()
        msg.data = Data([1])
        m.put(id(1), message: msg, topic: "a")
        m.put(id(2), message: msg, topic: "b")
        #expect(m.gossipIDs(topic: "a") == [id(1)])
        m.shift()
        m.put(id(3), message: msg, topic: "a")
        #expect(m.gossipIDs(topic: "a") == [id(3), id(1)])
        m.shift(); m.shift()
        // id 1 is now in window 3: out of the gossip windows, still retrievable.
        #expect(m.gossipIDs(topic: "a") == [id(3)])
        #expect(m.get(id(1)) != nil)
        m.shift(); m.shift()
        // After HistoryLength (5) shifts it is gone; id 3 (one shift younger) remains.
        #expect(m.get(id(1)) == nil)
        #expect(m.get(id(3)) != nil)
        let firstAsk = m.getForPeer(id(3), peer: peer)?.count
        let secondAsk = m.getForPeer(id(3), peer: peer)?.count
        let gone = m.getForPeer(id(1), peer: peer)
        #expect(firstAsk == 1)
        #expect(secondAsk == 2)
        #expect(gone == nil)
        #expect(m.count == 1)
    }

    @Test func backoffTableKeepsTheLatestExpiryAndClearsWithSlack() {
        var b = BackoffTable()
        let p = F.peer(1)
        b.add(p, topic: "a", until: 100)
        b.add(p, topic: "a", until: 50)
        #expect(b.expiry(p, topic: "a") == 100)
        b.clear(now: 105, slack: 10)
        #expect(b.contains(p, topic: "a"), "inside the slack")
        b.clear(now: 111, slack: 10)
        #expect(!b.contains(p, topic: "a"))
        #expect(b.count == 0)
    }

    @Test func promisesTrackOneIdPerIWantAndBreakAfterExpiry() {
        var pr = GossipPromises()
        var rng = SplitMix64(seed: 1)
        let p = F.peer(1), q = F.peer(2)
        pr.add(p, ids: [id(1), id(2), id(3)], expires: 10, rng: &rng)
        pr.add(q, ids: [id(1)], expires: 10, rng: &rng)
        let early = pr.brokenPromises(now: 10)
        #expect(early.isEmpty)
        pr.fulfill(id(1))
        let broken = pr.brokenPromises(now: 11)
        #expect(broken[q] == nil, "fulfilled")
        #expect((broken[p] ?? 0) <= 1)
        #expect(pr.count == 0)
    }

    @Test func subscriptionFilterAllowListAndLimit() throws {
        var r = try F.router(1, filter: .allowList([t, "/b"], maxSubscriptionsPerRPC: 3))
        let b = F.peer(2)
        do {
            _ = try r.join("/x", now: 0)
            Issue.record("joined a disallowed topic")
        } catch {
            #expect(error == .topicNotAllowed("/x"))
        }
        _ = try r.join(t, now: 0)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        _ = r.handleRPC(from: b, rpc: F.subscribe(t, "/x", "/b"), now: 0)
        #expect(r.topicPeers(of: t) == [b])
        #expect(r.topicPeers(of: "/x").isEmpty, "not in the allow-list")
        #expect(r.stats.topics == 2)
        // Too many subscriptions: the whole RPC is dropped, messages in it included.
        var rpc = F.subscribe("/b", "/b", "/b", "/b", subscribe: false)
        rpc.publish = F.message([5]).publish
        let dropped = r.handleRPC(from: b, rpc: rpc, now: 0)
        #expect(dropped.validations.isEmpty)
        #expect(r.topicPeers(of: "/b") == [b])
        // Subscribe + unsubscribe of one topic in one RPC cancel out.
        var both = F.subscribe("/b", subscribe: false)
        both.subscriptions.append(PBRPC.SubOpts(topic: "/b", subscribe: true))
        _ = r.handleRPC(from: b, rpc: both, now: 0)
        #expect(r.topicPeers(of: "/b") == [b])
        _ = r.handleRPC(from: b, rpc: F.subscribe("/b", subscribe: false), now: 0)
        #expect(r.topicPeers(of: "/b").isEmpty)
        #expect(r.stats.topics == 1, "unused topic forgotten")
    }

    @Test func unrestrictedFilterBoundsTopicsPerPeer() throws {
        var r = try F.router(1, filter: SubscriptionFilter(allowedTopics: nil, maxSubscriptionsPerRPC: nil, maxTopicsPerPeer: 5))
        let b = F.peer(2)
        _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
        var rpc = PBRPC()
        rpc.subscriptions = (0..<50).map { PBRPC.SubOpts(topic: "/t\($0)", subscribe: true) }
        _ = r.handleRPC(from: b, rpc: rpc, now: 0)
        #expect(r.stats.topics == 5)
        _ = r.removePeer(b, now: 0)
        #expect(r.stats.topics == 0)
        #expect(r.stats.peers == 0)
    }
}
