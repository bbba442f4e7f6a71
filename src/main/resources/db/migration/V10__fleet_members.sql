-- The instances of a fleet. Each instance inserts its row at start, renews last_seen well inside its lease and
-- deletes the row when it stops. Times are the database's clock (now()), so that instance clocks do not matter: a
-- member is live while last_seen + lease is in the future; an instance killed without a goodbye drops out after its
-- lease, and its row is deleted later by any live member. The name is unique: a second instance of the same name is
-- refused at start while the first one's lease runs.
CREATE TABLE fleet_members (
    name        text        PRIMARY KEY,
    url         text        NOT NULL,
    version     text        NOT NULL,
    incarnation text        NOT NULL,
    lease       interval    NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
