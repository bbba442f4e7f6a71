-- A listen port belongs to one relay fleet-wide, whatever its listen host. Why the port alone: every instance binds
-- a relay on its own address (onion.fleet.bind-address), on a wildcard (0.0.0.0, ::) or on the spec's host, so two
-- relays with different hosts and one port clash on every instance that has a bind-address or a wildcard in play.
-- The port is the only part of the listen address all instances agree on. Ephemeral ports (0) are pinned before the
-- relay is stored, so every stored relay has its port here.
ALTER TABLE relays ADD COLUMN listen_port integer
    GENERATED ALWAYS AS ((stored #>> '{spec,listen,port}')::integer) STORED;

-- A fleet that already holds two relays on one port (each FAILED on every instance where the other listens) cannot
-- be given the rule silently: the migration stops and names them, so the operator deletes one and starts again.
DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(format('port %s: %s', listen_port, names), '; ')
    INTO clash
    FROM (SELECT listen_port, string_agg(name, ', ' ORDER BY created_at) AS names
          FROM relays WHERE listen_port > 0 GROUP BY listen_port HAVING count(*) > 1) AS shared;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'relays share a listen port (%); delete all but one of each before upgrading', clash;
    END IF;
END $$;

CREATE UNIQUE INDEX relays_listen_port_key ON relays (listen_port) WHERE listen_port > 0;
