package dev.onionrelay.store.postgres;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.registry.RelayStore;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.registry.file.StoredRelayJson;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.store.StoreUnavailableException;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * API-created relays in the fleet's database, in the same JSON form as the file store. The name is unique in the
 * database, so of two instances creating one name at once only one succeeds; the other gets CONFLICT. A relay's row
 * also names the stored credentials its layers use, which keeps them from being deleted by any instance.
 */
public final class PostgresRelayStore implements RelayStore {

    private static final System.Logger LOG = System.getLogger(PostgresRelayStore.class.getName());
    private static final String UNIQUE_VIOLATION = "23505";

    private final PgStore db;
    private final StoredRelayJson json = new StoredRelayJson();
    private volatile @Nullable List<StoredRelay> lastKnown;

    public PostgresRelayStore(PgStore db) {
        this.db = db;
    }

    /**
     * @throws RelayException CONFLICT on {@code name} when another instance took the name first
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached
     */
    @Override
    public void save(StoredRelay relay) {
        String name = relay.spec().name();
        try {
            db.transaction("save relay " + name, connection -> {
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
                Array names =
                        connection.createArrayOf("text", credentialNames(relay).toArray());
                try (PreparedStatement uses =
                        connection.prepareStatement("INSERT INTO relay_credentials (relay_id, credential_name)"
                                + " SELECT ?, name FROM credentials WHERE name = ANY (?)")) {
                    uses.setString(1, relay.id());
                    uses.setArray(2, names);
                    uses.executeUpdate();
                }
                db.recordChange(connection, "relay", name, updated ? "updated" : "created");
                return null;
            });
        } catch (PgStore.StatementException e) {
            if (UNIQUE_VIOLATION.equals(e.sqlState())) {
                throw new RelayException(
                        RelayException.Kind.CONFLICT, "name", "a relay named '" + name + "' exists already");
            }
            throw e;
        }
    }

    @Override
    public void delete(String id) {
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
