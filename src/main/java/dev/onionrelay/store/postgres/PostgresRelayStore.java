package dev.onionrelay.store.postgres;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.registry.RelayStore;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.registry.file.StoredRelayJson;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.store.StoreUnavailableException;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * API-created relays in the fleet's database, in the same JSON form as the file store. The name is unique in the
 * database, so of two instances creating one name at once only one succeeds; the other gets CONFLICT; so is the listen
 * port (see {@code V11__one_relay_per_listen_port.sql} for why the port alone). A relay's row also names the stored
 * credentials its layers use, which keeps them from being deleted by any instance, and a relay naming a credential
 * deleted a moment earlier is refused.
 */
public final class PostgresRelayStore implements RelayStore {

    private static final System.Logger LOG = System.getLogger(PostgresRelayStore.class.getName());
    private static final String UNIQUE_VIOLATION = "23505";
    private static final String FOREIGN_KEY_VIOLATION = "23503";
    private static final String LISTEN_PORT_KEY = "relays_listen_port_key";

    private final PgStore db;
    private final StoredRelayJson json = new StoredRelayJson();
    private final Predicate<String> keptLocally;
    private volatile @Nullable List<StoredRelay> lastKnown;

    public PostgresRelayStore(PgStore db) {
        this(db, name -> false);
    }

    /**
     * @param keptLocally whether a credential name is one this instance keeps only locally (from configured files),
     *     so not in the store
     */
    public PostgresRelayStore(PgStore db, Predicate<String> keptLocally) {
        this.db = db;
        this.keptLocally = keptLocally;
    }

    /**
     * @throws RelayException CONFLICT on {@code name} when another instance took the name first
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached
     */
    @Override
    public void save(StoredRelay relay) {
        write(relay, false);
    }

    /**
     * Writes the replacement only where the row is still at the revision before it (a conditional update on the stored
     * JSON's revision), so that of two replacements of one relay through different instances at once, one wins.
     *
     * @throws RelayException CONFLICT when the revision moved on or the new spec breaks a fleet rule (port, credential),
     *     NOT_FOUND when the relay was deleted
     */
    @Override
    public void replace(StoredRelay relay) {
        write(relay, true);
    }

    private void write(StoredRelay relay, boolean replacing) {
        String name = relay.spec().name();
        db.requireAdmitted();
        try {
            db.transaction("save relay " + name, connection -> {
                if (replacing) {
                    replaceRow(connection, relay);
                    recordCredentialUses(connection, relay);
                    db.recordChange(connection, "relay", name, "updated");
                    return null;
                }
                boolean updated;
                try (PreparedStatement upsert = connection.prepareStatement(
                        "INSERT INTO relays (id, name, created_at, stored) VALUES (?, ?, ?, ?::jsonb)"
                                + " ON CONFLICT (id) DO UPDATE SET name = excluded.name, stored = excluded.stored"
                                + " RETURNING (xmax <> 0)")) {
                    upsert.setString(1, relay.id());
                    upsert.setString(2, name);
                    upsert.setTimestamp(3, Timestamp.from(relay.createdAt()));
                    upsert.setString(4, new String(json.write(relay), StandardCharsets.UTF_8));
                    try (ResultSet row = upsert.executeQuery()) {
                        row.next();
                        updated = row.getBoolean(1);
                    }
                }
                try (PreparedStatement clear =
                        connection.prepareStatement("DELETE FROM relay_credentials WHERE relay_id = ?")) {
                    clear.setString(1, relay.id());
                    clear.executeUpdate();
                }
                recordCredentialUses(connection, relay);
                db.recordChange(connection, "relay", name, updated ? "updated" : "created");
                return null;
            });
        } catch (PgStore.StatementException e) {
            if (UNIQUE_VIOLATION.equals(e.sqlState()) && LISTEN_PORT_KEY.equals(e.constraint())) {
                int port = relay.spec().listen().port();
                throw new RelayException(
                        RelayException.Kind.CONFLICT,
                        "listen.port",
                        "port " + port + " is the listen port of relay '" + holderOfPort(port)
                                + "' in this fleet (a listen port belongs to one relay fleet-wide)");
            }
            if (UNIQUE_VIOLATION.equals(e.sqlState())) {
                throw new RelayException(
                        RelayException.Kind.CONFLICT, "name", "a relay named '" + name + "' exists already");
            }
            if (FOREIGN_KEY_VIOLATION.equals(e.sqlState())) {
                // A credential named by the relay was deleted by another instance while this transaction waited.
                throw credentialGone(relay, credentialNames(relay));
            }
            throw e;
        }
    }

    private void replaceRow(Connection connection, StoredRelay relay) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("UPDATE relays SET stored = ?::jsonb"
                + " WHERE id = ? AND COALESCE((stored ->> 'revision')::bigint, 1) = ?")) {
            update.setString(1, new String(json.write(relay), StandardCharsets.UTF_8));
            update.setString(2, relay.id());
            update.setLong(3, relay.revision() - 1);
            if (update.executeUpdate() == 1) {
                return;
            }
        }
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT COALESCE((stored ->> 'revision')::bigint, 1) FROM relays WHERE id = ?")) {
            select.setString(1, relay.id());
            try (ResultSet row = select.executeQuery()) {
                if (!row.next()) {
                    throw new RelayException(
                            RelayException.Kind.NOT_FOUND,
                            null,
                            "relay " + relay.spec().name() + " was deleted from the store meanwhile");
                }
                throw new RelayException(
                        RelayException.Kind.CONFLICT,
                        "revision",
                        "relay " + relay.spec().name() + " is at revision " + row.getLong(1) + " in the store, not "
                                + (relay.revision() - 1)
                                + ": another call changed it meanwhile; read it again and retry");
            }
        }
    }

    /**
     * Writes which stored credentials the relay uses, and refuses the relay when one of them is gone from the store
     * (deleted by another instance a moment ago): the rows are locked ({@code FOR KEY SHARE}) so that a concurrent
     * delete either commits first (the name is missing here: CONFLICT) or waits and then fails on the foreign key.
     * Names this instance keeps only locally (credentials from configured files) are not in the store.
     */
    private void recordCredentialUses(Connection connection, StoredRelay relay) throws SQLException {
        try (PreparedStatement clear =
                connection.prepareStatement("DELETE FROM relay_credentials WHERE relay_id = ?")) {
            clear.setString(1, relay.id());
            clear.executeUpdate();
        }
        Set<String> shared = new LinkedHashSet<>(credentialNames(relay));
        shared.removeIf(keptLocally);
        if (shared.isEmpty()) {
            return;
        }
        Array names = connection.createArrayOf("text", shared.toArray());
        Set<String> present = new LinkedHashSet<>();
        Set<String> keyless = new LinkedHashSet<>();
        try (PreparedStatement lock = connection.prepareStatement("SELECT name, private_key IS NULL FROM credentials"
                + " WHERE name = ANY (?) ORDER BY name FOR KEY SHARE")) {
            lock.setArray(1, names);
            try (ResultSet row = lock.executeQuery()) {
                while (row.next()) {
                    present.add(row.getString(1));
                    if (row.getBoolean(2)) {
                        keyless.add(row.getString(1));
                    }
                }
            }
        }
        Set<String> missing = new LinkedHashSet<>(shared);
        missing.removeAll(present);
        if (!missing.isEmpty()) {
            throw credentialGone(relay, missing);
        }
        // A credential rotated into a trust credential on another instance a moment ago (its rotation holds the row
        // lock until it commits, so this reads the result): a layer cannot present it.
        keyless.retainAll(presentedNames(relay));
        if (!keyless.isEmpty()) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "credential",
                    "credential " + keyless.stream().map(n -> "'" + n + "'").toList()
                            + " has no private key in the store (rotated into a trust credential meanwhile); relay '"
                            + relay.spec().name() + "' presents it, so nothing was saved");
        }
        try (PreparedStatement uses = connection.prepareStatement(
                "INSERT INTO relay_credentials (relay_id, credential_name) SELECT ?, unnest(?::text[])")) {
            uses.setString(1, relay.id());
            uses.setArray(2, names);
            uses.executeUpdate();
        }
    }

    private static RelayException credentialGone(StoredRelay relay, Set<String> names) {
        return new RelayException(
                RelayException.Kind.CONFLICT,
                "credential",
                "credential " + names.stream().map(n -> "'" + n + "'").toList()
                        + " was deleted from the store while relay '"
                        + relay.spec().name()
                        + "' was being created; nothing was created");
    }

    private String holderOfPort(int port) {
        try {
            return db.transaction("name the holder of port " + port, connection -> {
                try (PreparedStatement select =
                        connection.prepareStatement("SELECT name FROM relays WHERE listen_port = ?")) {
                    select.setInt(1, port);
                    try (ResultSet row = select.executeQuery()) {
                        return row.next() ? row.getString(1) : "(deleted since)";
                    }
                }
            });
        } catch (RuntimeException e) {
            return "(unknown)";
        }
    }

    @Override
    public void delete(String id) {
        db.requireAdmitted();
        db.transaction("delete relay " + id, connection -> {
            try (PreparedStatement delete =
                    connection.prepareStatement("DELETE FROM relays WHERE id = ? RETURNING name")) {
                delete.setString(1, id);
                try (ResultSet row = delete.executeQuery()) {
                    if (row.next()) {
                        db.recordChange(connection, "relay", row.getString(1), "deleted");
                    }
                }
            }
            return null;
        });
    }

    /**
     * The relays in the database or, while it cannot be reached, the last ones read (or {@link #seed}ed from a
     * snapshot): what an instance serves during an outage.
     *
     * @throws StoreUnavailableException when the database cannot be reached and nothing was read before
     */
    @Override
    public List<StoredRelay> load() {
        try {
            List<StoredRelay> relays = read();
            lastKnown = relays;
            return relays;
        } catch (StoreUnavailableException e) {
            List<StoredRelay> known = lastKnown;
            if (known == null) {
                throw e;
            }
            return known;
        }
    }

    /** What {@link #load} answers while the database cannot be reached, until it is read: a snapshot's relays. */
    public void seed(List<StoredRelay> relays) {
        if (lastKnown == null) {
            lastKnown = List.copyOf(relays);
        }
    }

    /** The relays as last read (or seeded); empty before. */
    public List<StoredRelay> lastKnown() {
        List<StoredRelay> known = lastKnown;
        return known == null ? List.of() : known;
    }

    /**
     * @throws StoreUnavailableException when the database cannot be reached
     */
    public List<StoredRelay> read() {
        return db.transaction("load relays", connection -> {
            List<StoredRelay> relays = new ArrayList<>();
            try (PreparedStatement select =
                            connection.prepareStatement("SELECT id, stored::text FROM relays ORDER BY created_at, id");
                    ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    try {
                        relays.add(json.read(rows.getString(2).getBytes(StandardCharsets.UTF_8)));
                    } catch (RuntimeException e) {
                        LOG.log(
                                System.Logger.Level.WARNING,
                                "skipping unreadable stored relay {0}: {1}",
                                rows.getString(1),
                                e.getMessage());
                    }
                }
            }
            return relays;
        });
    }

    private static Set<String> presentedNames(StoredRelay relay) {
        Set<String> names = new LinkedHashSet<>();
        List<LayerSpec> layers = new ArrayList<>(relay.spec().ingress());
        layers.addAll(relay.spec().egress());
        for (LayerSpec layer : layers) {
            if (layer.credential() != null) {
                names.add(layer.credential());
            }
        }
        return names;
    }

    private static Set<String> credentialNames(StoredRelay relay) {
        Set<String> names = new LinkedHashSet<>();
        List<LayerSpec> layers = new ArrayList<>(relay.spec().ingress());
        layers.addAll(relay.spec().egress());
        for (LayerSpec layer : layers) {
            if (layer.credential() != null) {
                names.add(layer.credential());
            }
            if (layer.trust() != null && !LayerSpec.SYSTEM_TRUST.equals(layer.trust())) {
                names.add(layer.trust());
            }
        }
        return names;
    }
}
