package dev.onionrelay.store.postgres;

import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.KeyRing;
import dev.onionrelay.store.StoreConfigurationException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Which key-encryption key a fleet seals under, kept by the database, and this instance's {@link KeyRing} applied to
 * it. The {@code key-check} row of {@code settings} (a constant sealed with a key) names the <em>fleet's key</em>:
 * every secret written is sealed under it, whatever each instance's current key is, so instances holding different
 * keys during a rotation agree. Every sealed row names the key it was sealed under ({@code key_id}) and is opened
 * with that key.
 *
 * <p>Admission: an instance is admitted when it holds the fleet's key (and opens the key check with it) and every key
 * that any stored secret is still sealed under. So during a rotation an instance with the old key alone and one with
 * the new key plus the old as previous serve side by side (the fleet's key is still the old one), and once
 * {@link KeyResealer} has moved the fleet's key and every row to the new key, an instance with the old key alone is
 * refused and the old key can be removed.
 */
public final class FleetKeys {

    static final String KEY_CHECK = "key-check";
    private static final byte[] KEY_CHECK_VALUE = "onion-relay key check".getBytes(StandardCharsets.US_ASCII);
    static final String MISMATCH = KeyRing.CURRENT_SETTING + " does not decrypt the stored credentials";
    private static final String HOLD_THE_FLEETS_KEY =
            "Give every instance of the fleet the key-encryption key the store was written with (as its current key or"
                    + " in " + KeyRing.PREVIOUS_SETTING + ").";

    /** A secret sealed for the store, and the id of the key it was sealed under (stored beside it). */
    public record Sealed(byte[] value, String keyId) {}

    private final KeyRing keys;

    public FleetKeys(KeyRing keys) {
        this.keys = keys;
    }

    public KeyRing ring() {
        return keys;
    }

    /**
     * Seals {@code plain} under the fleet's key, inside the transaction that stores it. The key check row is read
     * {@code FOR SHARE}: a re-seal moving the fleet to another key waits for this transaction, and a write that
     * starts after the move seals under the new key. Nothing is sealed under a key the fleet has left.
     *
     * @throws StoreConfigurationException when this instance does not hold the fleet's key
     */
    public Sealed seal(Connection connection, byte[] plain, String purpose) throws SQLException {
        KeyEncryptionKey key = sealingKey(connection);
        return new Sealed(key.seal(plain, purpose), key.id());
    }

    /**
     * Opens what was sealed under the key of id {@code keyId}.
     *
     * @throws GeneralSecurityException when this instance does not hold that key, or the value does not open with it
     */
    public byte[] open(byte[] sealed, @Nullable String keyId, String purpose) throws GeneralSecurityException {
        // Rows written before key ids were checked name one anyway (the column is filled on every insert); a null
        // is tried with the current key.
        KeyEncryptionKey key = keyId == null
                ? keys.current()
                : keys.find(keyId)
                        .orElseThrow(() -> new GeneralSecurityException("key id " + keyId + " is not held here"));
        return key.open(sealed, purpose);
    }

    /**
     * Makes sure this instance can serve the store: the first instance of a new store makes its current key the
     * fleet's; every instance must hold the fleet's key and every key a stored secret is sealed under.
     *
     * @throws StoreConfigurationException naming the key ids when it cannot
     */
    void admit(Connection connection) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO settings (name, value, key_id) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")) {
            insert.setString(1, KEY_CHECK);
            insert.setBytes(2, keys.current().seal(KEY_CHECK_VALUE, KEY_CHECK));
            insert.setString(3, keys.current().id());
            insert.executeUpdate();
        }
        String fleetKey;
        byte[] check;
        try (PreparedStatement select =
                connection.prepareStatement("SELECT value, key_id FROM settings WHERE name = ?")) {
            select.setString(1, KEY_CHECK);
            try (ResultSet row = select.executeQuery()) {
                row.next();
                check = row.getBytes(1);
                fleetKey = row.getString(2);
            }
        }
        try {
            if (!Arrays.equals(open(check, fleetKey, KEY_CHECK), KEY_CHECK_VALUE)) {
                throw new GeneralSecurityException("key check value differs");
            }
        } catch (GeneralSecurityException e) {
            throw new StoreConfigurationException(
                    MISMATCH + " (key id " + keys.current().id() + heldBesides()
                            + "; the store was written with key id " + fleetKey + ")",
                    HOLD_THE_FLEETS_KEY);
        }
        requireHeld(keyIdsInUse(connection));
    }

    /**
     * @throws StoreConfigurationException when a stored secret is sealed under a key this instance does not hold (a
     *     re-seal moved the fleet to a key this instance lacks, or one was interrupted and the old key is gone)
     */
    public void requireHeld(Collection<String> keyIds) {
        Set<String> missing = new TreeSet<>();
        for (String id : keyIds) {
            if (id != null && keys.find(id).isEmpty()) {
                missing.add(id);
            }
        }
        if (!missing.isEmpty()) {
            throw new StoreConfigurationException(
                    MISMATCH + ": some are sealed under key id " + String.join(", ", missing) + ", which this instance"
                            + " does not hold (key id " + keys.current().id() + heldBesides() + ")",
                    HOLD_THE_FLEETS_KEY);
        }
    }

    /** The key the fleet seals under now (named by the key check row, locked for share until the commit). */
    private KeyEncryptionKey sealingKey(Connection connection) throws SQLException {
        String fleetKey = null;
        try (PreparedStatement select =
                connection.prepareStatement("SELECT key_id FROM settings WHERE name = ? FOR SHARE")) {
            select.setString(1, KEY_CHECK);
            try (ResultSet row = select.executeQuery()) {
                if (row.next()) {
                    fleetKey = row.getString(1);
                }
            }
        }
        if (fleetKey == null) {
            // Not admitted yet (a test's store without admission): the current key, which admission would choose.
            return keys.current();
        }
        String id = fleetKey;
        return keys.find(id)
                .orElseThrow(() -> new StoreConfigurationException(
                        "the fleet now seals under key id " + id + ", which this instance does not hold (key id "
                                + keys.current().id() + heldBesides() + "), so the change was not made",
                        HOLD_THE_FLEETS_KEY));
    }

    /** The key ids stored secrets are sealed under, the key check's included. */
    static Set<String> keyIdsInUse(Connection connection) throws SQLException {
        Set<String> ids = new TreeSet<>();
        try (PreparedStatement select =
                        connection.prepareStatement("SELECT key_id FROM credentials WHERE key_id IS NOT NULL"
                                + " UNION SELECT key_id FROM settings WHERE key_id IS NOT NULL");
                ResultSet row = select.executeQuery()) {
            while (row.next()) {
                ids.add(row.getString(1));
            }
        }
        return ids;
    }

    private String heldBesides() {
        Set<String> previous = new TreeSet<>(keys.ids());
        previous.remove(keys.current().id());
        return previous.isEmpty() ? "" : ", previous " + String.join(", ", previous);
    }
}
