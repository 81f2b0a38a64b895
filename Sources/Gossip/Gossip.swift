// Gossip
