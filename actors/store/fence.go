package store

// Failover (README, "Failover"): when the router loses a partition, the store's copy of it is stale from then on
// (another node writes it); when it is given one, the outbox relay must look again at entries it skipped while the
// partition was another node's.

// Stale forgets that the store holds partition part in full: the next restore of part starts from scratch. The
// router calls it when it loses a partition without a clean stop (its lease expired first: it may have written
// past another owner's fence).
func (s *Store) Stale(part int) { s.ckpt.broken(part) }

// RewindOutbox has the next Outbox read start from the outbox's beginning: the relay skips (and passes) the entries
// of partitions the node does not own, and reads them again when it is given one.
func (s *Store) RewindOutbox() { s.outboxRewind.Store(1) }
