import Foundation
import P2PCore
import Testing
@testable import Gossip

/// Score math with hand-computed values (one test per component), decay, caps, retention,
/// thresholds in the router (graylist), and the presets.
@Suite struct RouterScoringTests {
    typealias F = RouterFixture
    static let s = RouterFixture.second
    let t = "/scored"

    /// Simple numbers so every expected value can be worked out by hand.
    static let topicParams = TopicScoreParameters(
        topicWeight: 0.5,
        timeInMeshWeight: 1, timeInMeshQuantum: .seconds(1), timeInMeshCap: 100,
        firstMessageDeliveriesWeight: 2, firstMessageDeliveriesDecay: 0.5, firstMessageDeliveriesCap: 3,
        meshMessageDeliveriesWeight: -1, meshMessageDeliveriesDecay: 0.5, meshMessageDeliveriesCap: 10,
        meshMessageDeliveriesThreshold: 4, meshMessageDeliveriesWindow: .milliseconds(100),
        meshMessageDeliveriesActivation: .seconds(5),
        meshFailurePenaltyWeight: -2, meshFailurePenaltyDecay: 0.5,
        invalidMessageDeliveriesWeight: -3, invalidMessageDeliveriesDecay: 0.5)

    static func params(cap: Double = 0) -> PeerScoreParameters {
        PeerScoreParameters(topics: ["/scored": topicParams], topicScoreCap: cap, appSpecificWeight: 2,
                            ipColocationFactorWeight: -1, ipColocationFactorThreshold: 2,
                            ipColocationFactorWhitelist: Set([IPAddress("10.9.9.9")].compactMap { $0 }),
                            behaviourPenaltyWeight: -1, behaviourPenaltyThreshold: 1, behaviourPenaltyDecay: 0.5,
                            decayInterval: .seconds(1), decayToZero: 0.1, retainScore: .seconds(60))
    }

    func engine(cap: Double = 0) -> PeerScore {
        PeerScore(params: Self.params(cap: cap), deliveryTTL: 120 * Self.s, deliveryCapacity: 1000)
    }

    func mid(_ i: UInt8) -> MessageID { MessageID([i]) }

    @Test func p1TimeInMeshCountsWholeQuantaUpToTheCap() {
        var e = engine()
        let b = F.peer(2)
        e.addPeer(b, ip: nil)
        e.graft(b, topic: t, now: 0)
        #expect(e.score(b) == 0, "mesh time is updated at refresh")
        e.refresh(now: 2_500_000_000)
        #expect(e.score(b) == 0.5 * 2)   // 2 whole quanta × w1 1 × topic weight 0.5
        e.refresh(now: 500 * Self.s)
        #expect(e.score(b) == 0.5 * 100 - 0.5 * 16, "capped at 100; P3 active with deficit 4² × −1")
        #expect(e.snapshot(b)?.topics[t]?.timeInMesh == .seconds(500))
    }

    @Test func p2FirstDeliveriesAreCappedAndDecayToZero() {
        var e = engine()
        let b = F.peer(2)
        e.addPeer(b, ip: nil)
        for i in 0..<5 {
            e.validateMessage(mid(UInt8(i)), topic: t, now: 0)
            e.deliverMessage(mid(UInt8(i)), topic: t, from: b, now: 0)
        }
        #expect(e.snapshot(b)?.topics[t]?.firstMessageDeliveries == 3)
        #expect(e.score(b) == 0.5 * 3 * 2)
        e.refresh(now: Self.s)      // 1.5
        #expect(e.score(b) == 0.5 * 1.5 * 2)
        e.refresh(now: 2 * Self.s)  // 0.75
        e.refresh(now: 3 * Self.s)  // 0.375
        e.refresh(now: 4 * Self.s)  // 0.1875
        e.refresh(now: 5 * Self.s)  // 0.09375 < DecayToZero 0.1 → 0
        #expect(e.snapshot(b)?.topics[t]?.firstMessageDeliveries == 0)
        #expect(e.score(b) == 0)
        // Unscored topics are not tracked at all.
        e.deliverMessage(mid(9), topic: "/unscored", from: b, now: 0)
        #expect(e.snapshot(b)?.topics["/unscored"] == nil)
    }

    @Test func p3DeficitAfterActivationAndDeliveryWindow() {
        var e = engine()
        let b = F.peer(2), c = F.peer(3)
        e.addPeer(b, ip: nil)
        e.addPeer(c, ip: nil)
        e.graft(b, topic: t, now: 0)
        e.graft(c, topic: t, now: 0)
        // b delivers first; c's copy arrives during validation (counts), and again later (no double count).
        e.validateMessage(mid(1), topic: t, now: 0)
        e.duplicateMessage(mid(1), topic: t, from: c, now: 0)
        e.deliverMessage(mid(1), topic: t, from: b, now: 10)
        e.duplicateMessage(mid(1), topic: t, from: c, now: 20)
        #expect(e.snapshot(c)?.topics[t]?.meshMessageDeliveries == 1)
        #expect(e.snapshot(b)?.topics[t]?.meshMessageDeliveries == 1)
        // A copy within the 100 ms window after validation counts; one after it does not.
        e.validateMessage(mid(2), topic: t, now: Self.s)
        e.deliverMessage(mid(2), topic: t, from: b, now: Self.s)
        e.duplicateMessage(mid(2), topic: t, from: c, now: Self.s + 50_000_000)
        e.validateMessage(mid(3), topic: t, now: Self.s)
        e.deliverMessage(mid(3), topic: t, from: b, now: Self.s)
        e.duplicateMessage(mid(3), topic: t, from: c, now: Self.s + 150_000_000)
        #expect(e.snapshot(c)?.topics[t]?.meshMessageDeliveries == 2)
        #expect(e.snapshot(b)?.topics[t]?.meshMessageDeliveries == 3)
        // Not active yet: only P1/P2 count. c: P1 0, P2 0.
        #expect(e.score(c) == 0)
        // Activation after 5 s in the mesh; with decay 0.5 per second the counters shrink:
        // c's 2 → 1 → 0.5 → 0.25 → 0.125 → 0 (below 0.1) by t = 5 s, t = 6 s activates.
        for i in 1...6 { e.refresh(now: UInt64(i) * Self.s) }
        #expect(e.snapshot(c)?.topics[t]?.meshMessageDeliveries == 0)
        // P1 6 quanta, P3 deficit 4 → −16: (6 − 16) × 0.5 = −5.
        #expect(e.score(c) == -5)
    }

    @Test func p3bStickyPenaltyOnPrune() {
        var e = engine()
        let b = F.peer(2)
        e.addPeer(b, ip: nil)
        e.graft(b, topic: t, now: 0)
        e.validateMessage(mid(1), topic: t, now: 0)
        e.deliverMessage(mid(1), topic: t, from: b, now: 0)   // P2 1, mesh deliveries 1
        e.refresh(now: 6 * Self.s)                             // active; counters 0.5
        e.prune(b, topic: t)
        // P3b += (4 − 0.5)² = 12.25; P3 and P1 stop with the prune; P2 0.5 × 2.
        #expect(e.snapshot(b)?.topics[t]?.meshFailurePenalty == 12.25)
        #expect(e.score(b) == 0.5 * (12.25 * -2 + 0.5 * 2))
        e.refresh(now: 7 * Self.s)
        #expect(e.score(b) == 0.5 * (6.125 * -2 + 0.25 * 2))
        // No penalty for a prune before activation.
        let c = F.peer(3)
        e.addPeer(c, ip: nil)
        e.graft(c, topic: t, now: 7 * Self.s)
        e.prune(c, topic: t)
        #expect(e.score(c) == 0)
    }

    @Test func p4InvalidMessagesSquaredIncludingForwardersOfTheSameMessage() {
        var e = engine()
        let b = F.peer(2), c = F.peer(3), d = F.peer(4)
        for p in [b, c, d] { e.addPeer(p, ip: nil) }
        e.validateMessage(mid(1), topic: t, now: 0)
        e.duplicateMessage(mid(1), topic: t, from: c, now: 0)       // during validation
        e.rejectMessage(mid(1), topic: t, from: b, reason: .validationFailed, now: 0)
        e.duplicateMessage(mid(1), topic: t, from: d, now: 1)       // after the verdict
        for p in [b, c, d] { #expect(e.score(p) == 0.5 * -3) }
        e.validateMessage(mid(2), topic: t, now: 0)
        e.rejectMessage(mid(2), topic: t, from: b, reason: .validationFailed, now: 0)
        #expect(e.score(b) == 0.5 * 4 * -3)
        // Signature-policy violations count directly; ignored and queue-full messages never do.
        e.rejectMessage(mid(3), topic: t, from: c, reason: .invalidSignature, now: 0)
        #expect(e.score(c) == 0.5 * 4 * -3)
        e.validateMessage(mid(4), topic: t, now: 0)
        e.rejectMessage(mid(4), topic: t, from: d, reason: .validationIgnored, now: 0)
        e.rejectMessage(mid(5), topic: t, from: d, reason: .validationQueueFull, now: 0)
        #expect(e.score(d) == 0.5 * -3)
        e.refresh(now: Self.s)   // 2 → 1
        #expect(e.score(b) == 0.5 * 1 * -3)
    }

    @Test func topicScoreCapAppliesToThePositiveTopicPartOnly() {
        var e = engine(cap: 1)
        let b = F.peer(2)
        e.addPeer(b, ip: nil)
        for i in 0..<3 {
            e.validateMessage(mid(UInt8(i)), topic: t, now: 0)
            e.deliverMessage(mid(UInt8(i)), topic: t, from: b, now: 0)
        }
        e.setApplicationScore(b, 3)
        #expect(e.score(b) == 1 + 6, "topic 3 capped at 1, plus P5 3 × 2")
        #expect(e.snapshot(b)?.topicScore == 1)
        #expect(e.snapshot(b)?.applicationScore == 3)
    }

    @Test func p6IPColocation() {
        var e = engine()
        let peers = (2...5).map(F.peer)
        for p in peers { e.addPeer(p, ip: IPAddress("10.0.0.1")) }
        // 4 peers on one IP, threshold 2: surplus 2 → 2² × −1.
        for p in peers { #expect(e.score(p) == -4) }
        #expect(e.snapshot(peers[0])?.ipColocationFactor == 2)
        // Whitelisted and loopback addresses never count.
        let w = (6...9).map(F.peer)
        for p in w { e.addPeer(p, ip: IPAddress("10.9.9.9")) }
        for p in w { #expect(e.score(p) == 0) }
        let l = (10...13).map(F.peer)
        for p in l { e.addPeer(p, ip: .loopbackV4) }
        for p in l { #expect(e.score(p) == 0) }
        // IPv6 peers also count under their /64: three in one /64 → surplus 1.
        let v6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3"].compactMap(IPAddress.init)
        let six = (20...22).map(F.peer)
        for (p, ip) in zip(six, v6) { e.addPeer(p, ip: ip) }
        #expect(e.score(six[0]) == -1)
        // A retained (disconnected, non-positive) peer still counts until it expires.
        e.removePeer(peers[0], now: 0)
        #expect(e.score(peers[1]) == -4)
        e.refresh(now: 61 * Self.s)
        #expect(e.score(peers[1]) == -1, "3 peers left: surplus 1")
    }

    @Test func p7BehaviourPenaltyOverThresholdSquaredAndDecays() {
        var e = engine()
        let b = F.peer(2)
        e.addPeer(b, ip: nil)
        e.addPenalty(b, 1)
        #expect(e.score(b) == 0, "at the threshold: nothing")
        e.addPenalty(b, 2)
        #expect(e.score(b) == -4)        // (3 − 1)²
        e.refresh(now: Self.s)           // 1.5
        #expect(e.score(b) == -0.25)     // (1.5 − 1)²
        e.refresh(now: 2 * Self.s)       // 0.75 ≤ 1
        #expect(e.score(b) == 0)
        // Unknown peers are left alone.
        e.addPenalty(F.peer(99), 5)
        #expect(e.score(F.peer(99)) == 0)
    }

    @Test func retentionOfNonPositiveScores() {
        var e = engine()
        let bad = F.peer(2), good = F.peer(3)
        e.addPeer(bad, ip: nil)
        e.addPeer(good, ip: nil)
        e.addPenalty(bad, 3)
        e.setApplicationScore(good, 1)
        e.removePeer(bad, now: 0)
        e.removePeer(good, now: 0)
        #expect(e.snapshot(good) == nil, "positive scores are not retained")
        #expect(e.snapshot(bad)?.connected == false)
        // Retained scores do not decay; reconnecting brings the penalty back.
        e.refresh(now: 30 * Self.s)
        e.addPeer(bad, ip: nil)
        #expect(e.score(bad) == -4)
        e.removePeer(bad, now: 30 * Self.s)
        e.refresh(now: 60 * Self.s)
        #expect(e.snapshot(bad) != nil, "RetainScore 60 s from the disconnect at 30 s")
        e.refresh(now: 91 * Self.s)
        #expect(e.snapshot(bad) == nil)
        #expect(e.score(bad) == 0)
    }

    @Test func presetsMatchTheSpec() throws {
        let light = PeerScoreParameters.opNodeLight(blockTime: 2)
        #expect(light.topics.isEmpty)
        #expect(light.appSpecificWeight == 1)
        #expect(light.ipColocationFactorWeight == -35 && light.ipColocationFactorThreshold == 10)
        #expect(light.behaviourPenaltyWeight == -16 && light.behaviourPenaltyThreshold == 6)
        #expect(abs(light.behaviourPenaltyDecay - 0.9261187) < 1e-6, "0.01^(1/60)")
        #expect(light.decayInterval == .seconds(2) && light.decayToZero == 0.01)
        #expect(light.retainScore == .seconds(1200))
        let zero = PeerScoreParameters.opNodeLight(blockTime: 0)
        #expect(zero.decayInterval == .seconds(2), "2 s when blockTime is 0")
        #expect(abs(PeerScoreParameters.opNodeLight(blockTime: 12).behaviourPenaltyDecay - 0.9261187) < 1e-6)
        #expect(PeerScoreThresholds.opNode == PeerScoreThresholds(gossip: -10, publish: -40, graylist: -40,
                                                                   acceptPX: 20, opportunisticGraft: 0.05))
        try light.validate()
        try PeerScoreThresholds.opNode.validate()
        let full = PeerScoreParameters.fullTopicScoring(topics: ["/a", "/b"])
        try full.validate()
        #expect(full.topics.count == 2)
        // Validation catches nonsense.
        var bad = light
        bad.behaviourPenaltyWeight = 1
        #expect(throws: GossipConfigError.self) { try bad.validate() }
        #expect(throws: GossipConfigError.self) {
            try PeerScoreThresholds(gossip: -1, publish: 0, graylist: -2, acceptPX: 0, opportunisticGraft: 0).validate()
        }
        // Parameters presets.
        let op = GossipSubParameters.opNode, go = GossipSubParameters.goDefaults
        #expect((op.d, op.dlo, op.dhi, op.dlazy, op.historyLength, op.historyGossip) == (8, 6, 12, 6, 12, 3))
        #expect(op.heartbeatInterval == .milliseconds(500) && op.fanoutTTL == .seconds(24) && op.seenTTL == .seconds(65))
        #expect(!op.floodPublish && !op.peerExchange && op.maxMessageSize == 10 * 1024 * 1024)
        #expect(op.outboundQueueSize == 256 && op.validationConcurrency == 4 && op.validationThrottle == 512 && op.validationQueueSize == 256)
        #expect((go.d, go.dlo, go.dhi, go.dlazy, go.historyLength, go.historyGossip) == (6, 5, 12, 6, 5, 3))
        #expect(go.heartbeatInterval == .seconds(1) && go.fanoutTTL == .seconds(60) && go.seenTTL == .seconds(120))
        #expect(go.floodPublish)
        try op.validate()
        try go.validate()
    }

    // MARK: thresholds in the router

    @Test func graylistedPeersAreIgnoredButDirectPeersNever() throws {
        let scoring = PeerScoring(parameters: PeerScoreParameters(behaviourPenaltyWeight: -1, behaviourPenaltyThreshold: 0,
                                                                  behaviourPenaltyDecay: 0.9),
                                  thresholds: PeerScoreThresholds(gossip: -1, publish: -2, graylist: -3, acceptPX: 0,
                                                                  opportunisticGraft: 0))
        let b = F.peer(2), d = F.peer(3)
        var r = try F.router(1, scoring: scoring, direct: [d])
        _ = try r.join(RouterFixture.topic, now: 0)
        for p in [b, d] {
            _ = r.addPeer(p, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: p, rpc: F.subscribe(RouterFixture.topic), now: 0)
        }
        // b prunes us and grafts straight back: P7 2 → −4 < −3.
        _ = r.handleRPC(from: b, rpc: F.prune(RouterFixture.topic), now: 0)
        _ = r.handleRPC(from: b, rpc: F.graft(RouterFixture.topic), now: 0)
        #expect(r.score(of: b) == -4)
        let ignored = r.handleRPC(from: b, rpc: F.message([1]), now: 1)
        #expect(ignored.validations.isEmpty)
        #expect(ignored.contains { if case .graylisted(let p, let s) = $0 { return p == b && s == -4 } else { return false } })
        // Only once per graylisting; control is ignored too (no IWANT answer, no PRUNE for a GRAFT).
        let again = r.handleRPC(from: b, rpc: F.graft(RouterFixture.topic), now: 1)
        #expect(again.sends.isEmpty)
        #expect(!again.contains { if case .graylisted = $0 { return true } else { return false } })
        // Subscriptions are still tracked (as go does).
        _ = r.handleRPC(from: b, rpc: F.subscribe(RouterFixture.topic, subscribe: false), now: 1)
        #expect(r.topicPeers(of: RouterFixture.topic) == [d])
        // A direct peer with the same score is still heard.
        _ = r.handleRPC(from: d, rpc: F.prune(RouterFixture.topic), now: 0)
        for _ in 0..<3 { _ = r.handleRPC(from: d, rpc: F.graft(RouterFixture.topic), now: 0) }
        #expect(r.handleRPC(from: d, rpc: F.message([2]), now: 1).validations.count == 1)
    }

    @Test func rejectedMessagesMoveTheScoreOnlyInScoredTopics() throws {
        // op-node light profile: no topic scores, so REJECT changes nothing (spec §3).
        var light = try F.router(1, scoring: .opNodeLight(blockTime: 2))
        var full = try F.router(1, scoring: PeerScoring(parameters: .fullTopicScoring(topics: [RouterFixture.topic]),
                                                       thresholds: .opNode))
        let b = F.peer(2)
        for i in 0..<2 {
            var r = i == 0 ? light : full
            _ = try r.join(RouterFixture.topic, now: 0)
            _ = r.addPeer(b, protocol: .meshsub11, outbound: true, ip: nil, now: 0)
            _ = r.handleRPC(from: b, rpc: F.subscribe(RouterFixture.topic), now: 0)
            let req = r.handleRPC(from: b, rpc: F.message([1]), now: 0).validations[0]
            _ = r.deliverValidationResult(req.id, outcome: .reject, now: 0)
            if i == 0 { light = r } else { full = r }
        }
        #expect(light.score(of: b) == 0)
        #expect(full.score(of: b) == -100, "P4 weight −100 × 1²")
        #expect(full.scoreSnapshot(of: b)?.topics[RouterFixture.topic]?.invalidMessageDeliveries == 1)
    }
}
