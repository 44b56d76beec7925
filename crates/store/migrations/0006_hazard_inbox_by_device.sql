-- The hazard worker takes, with each batch of the inbox, every older range of the same devices
-- (so a device's readings are judged in commit order). Without this index that second step
-- scanned the whole backlog once per batch: under a backlog of thousands of ranges it became
-- the busiest statement in the database.
CREATE INDEX hazard_inbox_device ON hazard_inbox (device_id, id);
