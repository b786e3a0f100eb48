-- 0002_outbox_groups: rows coalesced into one post share a group, fixed before sending,
-- so a resend after a crash sends the same rows with the same nonce.
ALTER TABLE outbox ADD COLUMN group_id INTEGER;
