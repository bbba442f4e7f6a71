-- Credentials rotate in place (PUT /credentials/{name}): version is 1 when created and one more with every rotation,
-- rotated_at the time of the last one. A rotation updates the row only where version is still the one it read, under
-- a row lock that also orders it against relays being saved with the credential (they lock it FOR KEY SHARE), so
-- that an identity a relay presents never turns into a trust credential unseen.
ALTER TABLE credentials ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE credentials ADD COLUMN rotated_at timestamptz;
