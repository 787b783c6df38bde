ALTER TABLE throttle_counters SET LOGGED;
