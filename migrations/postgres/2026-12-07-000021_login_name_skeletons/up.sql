-- Every login name keeps its UTS #39 confusable skeleton, and no two names
-- may share one: `аlice` (Cyrillic а) is refused while `alice` exists. The
-- skeletons of existing names are computed by the server after this
-- migration (SQL cannot); a name whose skeleton another, older name holds
-- keeps none and is reported by `portcullis migrate`.
ALTER TABLE login_names ADD COLUMN skeleton TEXT;
CREATE UNIQUE INDEX login_names_skeleton ON login_names (skeleton);
