-- The shared state of a fleet. Every instance reads it; every change bumps a revision and notifies the channel
-- onion_changes, so that the other instances apply it.

-- Credentials by name. The private key (PKCS#8) is sealed with AES-256-GCM under the key-encryption key whose id is
-- key_id; the clear key is never stored.
CREATE TABLE credentials (
    name            text        PRIMARY KEY,
    certificate_pem text        NOT NULL,
    private_key     bytea,
    key_id          text,
    created_at      timestamptz NOT NULL,
    CHECK ((private_key IS NULL) = (key_id IS NULL))
);

-- API-created relays: the stored form (id, created-at, spec with its pinned port) as JSON. The name is unique across
-- the fleet: two instances creating the same name at once, one wins.
CREATE TABLE relays (
    id         text        PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    stored     jsonb       NOT NULL
);

-- Which stored credentials a relay's layers use: a credential used by any relay of the fleet cannot be deleted.
CREATE TABLE relay_credentials (
    relay_id        text NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
    credential_name text NOT NULL REFERENCES credentials (name) ON DELETE RESTRICT,
    PRIMARY KEY (relay_id, credential_name)
);
CREATE INDEX relay_credentials_by_credential ON relay_credentials (credential_name);

-- One row per change, newest revision last: what changed, for logs and for an instance that wants to know whether it
-- is behind.
CREATE TABLE changes (
    revision   bigserial   PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('relay', 'credential', 'setting')),
    name       text        NOT NULL,
    operation  text        NOT NULL CHECK (operation IN ('created', 'updated', 'deleted')),
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Fleet-wide settings and secrets: the key check (a constant sealed with the key-encryption key, to recognise a
-- wrong key at start) and the generated admin token (sealed). Inserted if absent, so concurrent first starts agree.
CREATE TABLE settings (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    key_id     text,
    created_at timestamptz NOT NULL DEFAULT now()
);
