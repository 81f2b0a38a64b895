import Foundation
import P2PCore
import Testing
import Gossip

/// Attacks after go-libp2p-pubsub's `gossipsub_spam_test.go`, each against 30 honest nodes with
/// op-node parameters while honest publishing continues: the attacker is a scripted peer (not a
/// router) connected to a third of the network. Honest delivery must stay complete, and every
/// attack must drive the attacker's score below the graylist threshold (−40) at every honest
/// node it spammed: IHAVE floods, GRAFT in backoff and invalid messages by gossipsub v1.1's
/// rules; IWANT spam and duplicates of valid messages by p2pnode's behaviour penalties
/// (docs/ARCHITECTURE.md, "Where each gossipsub rule lives").
@Suite struct GossipSpamSimulationTests {
    static let s = GossipSim.second
    static let topic = GossipSim.topic

    /// An honest network plus one attacker (the last node), already joined and warmed up.
    func network(seed: UInt64, scoring: PeerScoring) throws -> (GossipSim, attacker: Int, targets: [Int]) {
        let n = 31
        let attacker = n - 1
        let sim = try GossipSim(seed: seed, nodes: n, scoring: scoring, attackers: [attacker])
        sim.randomTopology(dials: 6...8)
        // A third of the honest nodes dial the attacker (so it counts as outbound for them).
        var targets: [Int] = []
        for i in sim.honest where i % 3 == 0 {
            sim.connect(i, attacker)
            targets.append(i)
        }
        try sim.joinAll()
        sim.startHeartbeats()
        // The attacker subscribes and grafts like a normal peer.
        var hello = PBRPC()
        hello.subscriptions = [PBRPC.SubOpts(topic: Self.topic, subscribe: true)]
        var g = PBControlGraft()
        g.topicID = Self.topic
        hello.control.graft = [g]
        for t in targets { sim.send(from: attacker, to: t, hello) }
        sim.run(for: 3 * Self.s)
        return (sim, attacker, targets)
    }

    /// Runs `attack` every `interval` for `duration` while honest nodes publish 5 messages a
    /// second; returns the honest message ids.
    func attack(_ sim: GossipSim, for duration: UInt64, every interval: UInt64,
                _ step: @escaping () -> Void) throws -> [MessageID] {
        let end = sim.net.now + duration
        func tick() {
            guard sim.net.now < end else { return }
            step()
            sim.net.scheduler.schedule(after: interval) { tick() }
        }
        tick()
        var ids: [MessageID] = []
        while sim.net.now < end {
            let honest = sim.honest
            ids.append(try sim.publish(from: honest[Int(sim.rng.next() % UInt64(honest.count))]))
            sim.run(for: Self.s / 5)
        }
        return ids
    }

    func expectHonestDelivery(_ sim: GossipSim, _ ids: [MessageID], _ note: String) {
        sim.run(for: 3 * Self.s)
        let incomplete = ids.filter { !sim.missing($0).isEmpty }
        #expect(!ids.isEmpty)
        #expect(incomplete.isEmpty, "\(note): \(incomplete.count) of \(ids.count) honest messages incomplete")
    }

    func expectGraylisted(_ sim: GossipSim, _ attacker: Int, at targets: [Int], _ note: String) {
        for t in targets {
            let score = sim.score(at: t, of: attacker)
            #expect(score < PeerScoreThresholds.opNode.graylist, "\(note): attacker's score at node \(t) is \(score)")
        }
    }

    func fakeID(_ i: UInt64) -> Data { Data([0xfa, 0x4e] + withUnsafeBytes(of: i.bigEndian) { [UInt8]($0) }) }

    @Test func ihaveFloodIsBoundedAndBrokenPromisesGraylist() throws {
        let seed = simulationSeed(default: 0x1ba7e)
        let note = seedNote(seed)
        let (sim, attacker, targets) = try network(seed: seed, scoring: .opNodeLight(blockTime: 2))
        var asked: [Int: Int] = [:]
        var iwantRPCs: [Int: Int] = [:]
        var lastIWant: [Int: UInt64] = [:]
        sim.attackerReceive = { _, from, rpc in
            guard !rpc.control.iwant.isEmpty else { return }
            asked[from, default: 0] += rpc.control.iwant.reduce(0) { $0 + $1.messageIds.count }
            iwantRPCs[from, default: 0] += 1
            lastIWant[from] = sim.net.now
        }
        let start = sim.net.now
        var counter: UInt64 = 0
        let ids = try attack(sim, for: 8 * Self.s, every: Self.s / 20) {
            // 20 IHAVE RPCs per second per target, 200 never-delivered ids each.
            for t in targets {
                var h = PBControlIHave()
                h.topicID = Self.topic
                h.messageIds = (0..<200).map { _ in counter += 1; return fakeID(counter) }
                var rpc = PBRPC()
                rpc.control.ihave = [h]
                sim.send(from: attacker, to: t, rpc)
            }
        }
        expectGraylisted(sim, attacker, at: targets, note)
        // Over 8 s (16 heartbeats) each target answered at most MaxIHaveMessages (10) IHAVEs
        // per heartbeat, and stopped altogether once the broken promises graylisted the attacker.
        for t in targets {
            #expect((iwantRPCs[t] ?? 0) > 0 && (iwantRPCs[t] ?? 0) <= 17 * 10, "\(note): node \(t) sent \(iwantRPCs[t] ?? 0) IWANTs")
            #expect((asked[t] ?? 0) <= 17 * 10 * 200, "\(note)")
            #expect((lastIWant[t] ?? .max) < start + 6 * Self.s, "\(note): node \(t) still answered at \(lastIWant[t] ?? 0)")
        }
        expectHonestDelivery(sim, ids, note)
    }

    @Test func iwantSpamIsAnsweredAtMostGossipRetransmissionTimesAndGraylisted() throws {
        let seed = simulationSeed(default: 0x1ba7f)
        let note = seedNote(seed)
        let (sim, attacker, targets) = try network(seed: seed, scoring: .opNodeLight(blockTime: 2))
        var copies: [Int: [Data: Int]] = [:]
        // Ids it learnt (messages and IHAVEs), the newest 32.
        var known: [Data] = []
        func learn(_ id: Data) {
            guard !known.contains(id) else { return }
            known.append(id)
            if known.count > 32 { known.removeFirst() }
        }
        sim.attackerReceive = { _, from, rpc in
            for m in rpc.publish {
                let id = m.data.prefix(8)
                copies[from, default: [:]][id, default: 0] += 1
                learn(id)
            }
            for h in rpc.control.ihave { h.messageIds.forEach(learn) }
        }
        // Ten times a second, every target is asked again for every id it knows.
        let ids = try attack(sim, for: 5 * Self.s, every: Self.s / 10) {
            guard !known.isEmpty else { return }
            var w = PBControlIWant()
            w.messageIds = known
            var ask = PBRPC()
            ask.control.iwant = [w]
            for t in targets { sim.send(from: attacker, to: t, ask) }
        }
        let served = copies.values.flatMap(\.values)
        #expect(!served.isEmpty, "\(note): the attacker was in meshes and got messages")
        // One mesh forward plus at most GossipRetransmission (3) IWANT answers per message.
        #expect(served.allSatisfy { $0 <= 4 }, "\(note): max copies \(served.max() ?? 0)")
        // gossipsub v1.1 only bounds IWANT spam; p2pnode also adds P7 per request beyond
        // GossipRetransmission.
        expectGraylisted(sim, attacker, at: targets, note)
        expectHonestDelivery(sim, ids, note)
    }

    @Test func graftDuringBackoffIsPenalisedToGraylist() throws {
        let seed = simulationSeed(default: 0x1ba80)
        let note = seedNote(seed)
        let (sim, attacker, targets) = try network(seed: seed, scoring: .opNodeLight(blockTime: 2))
        var prunesReceived = 0
        sim.attackerReceive = { _, _, rpc in prunesReceived += rpc.control.prune.count }
        var flip = false
        let ids = try attack(sim, for: 5 * Self.s, every: Self.s / 10) {
            // Alternate PRUNE (which starts our victims' backoff) and GRAFT.
            flip.toggle()
            var rpc = PBRPC()
            if flip {
                var p = PBControlPrune(); p.topicID = Self.topic; p.backoff = 1
                rpc.control.prune = [p]
            } else {
                var g = PBControlGraft(); g.topicID = Self.topic
                rpc.control.graft = [g]
            }
            for t in targets { sim.send(from: attacker, to: t, rpc) }
        }
        #expect(prunesReceived > 0, "\(note): GRAFTs in backoff were answered with PRUNE")
        expectGraylisted(sim, attacker, at: targets, note)
        for t in targets {
            #expect(!(sim.routers[t]?.meshPeers(of: Self.topic).contains(sim.ids[attacker]) ?? true), "\(note)")
        }
        expectHonestDelivery(sim, ids, note)
    }

    @Test func invalidMessageFloodIsRejectedAndGraylisted() throws {
        let seed = simulationSeed(default: 0x1ba81)
        let note = seedNote(seed)
        let scoring = PeerScoring(parameters: .fullTopicScoring(topics: [Self.topic]), thresholds: .opNode)
        let (sim, attacker, targets) = try network(seed: seed, scoring: scoring)
        sim.validator = { _, request in request.message.data.first == 0xba ? .reject : .accept }
        var counter: UInt64 = 0
        let ids = try attack(sim, for: 5 * Self.s, every: Self.s / 20) {
            for t in targets {
                counter += 1
                var data = withUnsafeBytes(of: counter.bigEndian) { [UInt8]($0) }
                data[0] = 0xba
                var m = PBMessage()
                m.data = Data(data + [UInt8](repeating: 0xee, count: 56))
                m.topic = Self.topic
                sim.send(from: attacker, to: t, PBRPC(message: m))
            }
        }
        expectGraylisted(sim, attacker, at: targets, note)
        for t in targets {
            let p4 = sim.routers[t]?.scoreSnapshot(of: sim.ids[attacker])?.topics[Self.topic]?.invalidMessageDeliveries ?? 0
            // One invalid message is enough (−100 < −40); later ones are ignored unvalidated, so
            // the counter is 1, decayed a little since.
            #expect(p4 > 0.9 && p4 <= 1, "\(note): P4 counter at node \(t) is \(p4)")
        }
        // No invalid message was ever delivered to an application.
        #expect(sim.delivered.allSatisfy { $0.allSatisfy { $0.bytes.first != 0xba } }, "\(note)")
        expectHonestDelivery(sim, ids, note)
    }

    @Test func duplicateFloodIsCheapAndGraylists() throws {
        let seed = simulationSeed(default: 0x1ba82)
        let note = seedNote(seed)
        let scoring = PeerScoring(parameters: .fullTopicScoring(topics: [Self.topic]), thresholds: .opNode)
        let (sim, attacker, targets) = try network(seed: seed, scoring: scoring)
        sim.validator = { _, request in request.message.data.first == 0xba ? .reject : .accept }
        // Phase 1: ten times a second, replay the newest 8 valid messages it got to every target.
        var recent: [PBMessage] = []
        sim.attackerReceive = { _, _, rpc in
            for m in rpc.publish where !recent.contains(m) {
                recent.append(m)
                if recent.count > 8 { recent.removeFirst() }
            }
        }
        let validationsBefore = sim.validations
        let ids = try attack(sim, for: 4 * Self.s, every: Self.s / 10) {
            for m in recent { for t in targets { sim.send(from: attacker, to: t, PBRPC(message: m)) } }
        }
        // Each honest node validated each message once however many copies arrived.
        #expect(sim.validations - validationsBefore <= ids.count * sim.honest.count, "\(note)")
        // gossipsub v1.1 does not score duplicates of valid messages; p2pnode adds P7 for every
        // copy of one message from one peer beyond the second.
        expectGraylisted(sim, attacker, at: targets, note)
        expectHonestDelivery(sim, ids, note)
        // Phase 2 (a fresh network): one invalid message, then copies of it: each copy is
        // another P4.
        try duplicatesOfAnInvalidMessageGraylist(seed: seed &+ 1)
    }

    func duplicatesOfAnInvalidMessageGraylist(seed: UInt64) throws {
        let note = seedNote(seed)
        let scoring = PeerScoring(parameters: .fullTopicScoring(topics: [Self.topic]), thresholds: .opNode)
        let (sim, attacker, targets) = try network(seed: seed, scoring: scoring)
        sim.validator = { _, request in request.message.data.first == 0xba ? .reject : .accept }
        sim.attackerReceive = { _, _, _ in }
        var bad = PBMessage()
        bad.data = Data([0xba, 0xd0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 1, count: 56))
        bad.topic = Self.topic
        let more = try attack(sim, for: 3 * Self.s, every: Self.s / 10) {
            for t in targets { sim.send(from: attacker, to: t, PBRPC(message: bad)) }
        }
        expectGraylisted(sim, attacker, at: targets, note)
        expectHonestDelivery(sim, more, note)
    }
}
