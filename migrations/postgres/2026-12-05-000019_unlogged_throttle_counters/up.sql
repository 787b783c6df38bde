-- Throttle counters are written twice by every login (the reservation before
-- the hash, the reset after a success) and are worth little once lost: as an
-- unlogged table they are written without WAL, so those commits wait for no
-- WAL flush. PostgreSQL keeps them across clean restarts; a crash of the
-- server (or a failover to a standby, which never sees them) empties them,
-- and every budget starts afresh (docs/operations.md, Throttles).
ALTER TABLE throttle_counters SET UNLOGGED;
