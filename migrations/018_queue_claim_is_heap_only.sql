-- A claim, a lease renewal and a release change only the lease and the delivery count, which no
-- index holds, so they are heap-only (HOT) updates: the claim used to move due_at as well, writing a
-- new entry into each of the queue's three indexes for every message handed out. Each page keeps room
-- for the claimed version of the rows inserted there.
ALTER TABLE notification_queue SET (fillfactor = 50);
