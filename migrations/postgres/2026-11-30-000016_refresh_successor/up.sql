-- A rotated refresh token names its successor, so a retried rotation finds
-- the unseen successor to supersede by the presented token's own row (a
-- primary-key lookup) instead of through an index on every token's parent:
-- one index fewer to maintain on every rotation. Rows rotated before this
-- migration get their latest child, found through the old index, which
-- then goes.
ALTER TABLE refresh_tokens ADD COLUMN successor_digest BYTEA;
UPDATE refresh_tokens SET successor_digest = (
    SELECT c.digest FROM refresh_tokens AS c
    WHERE c.parent_digest = refresh_tokens.digest
    ORDER BY c.issued_at DESC LIMIT 1)
WHERE rotated_at IS NOT NULL;
DROP INDEX refresh_tokens_parent;
