package dev.onionrelay.store.postgres;

import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.StoreUnavailableException;
import java.security.GeneralSecurityException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Moves a fleet to this instance's current key-encryption key while it serves: first the fleet's key (so every write
 * from then on seals under the new key, on every instance), then every secret still sealed under another key, one
 * conditional update per row ({@code WHERE key_id = <the one read> AND value = <the bytes read>}), so that two
 * re-seals at once, or a re-seal beside writes, never overwrite each other: a row changed in between is read again.
 * Ends by announcing a change, so every instance re-reads the store and rewrites its snapshot under the new key.
 *
 * <p>Run it once every instance holds the new key (as its current key, the old one as previous): an instance with
 * the old key alone stops taking writes when the fleet's key moves (its health names the key), while its relays keep
 * serving the last state.
 */
public final class KeyResealer {

    /** What a re-seal did: the fleet's key now, how many secrets it re-sealed, and the key ids still in use. */
    public record Result(String keyId, int settings, int credentials, Set<String> keyIdsInUse) {}

    private record Sealed(String name, byte[] value, String keyId) {}

    private static final int MAX_PASSES = 10;

    private final PgStore db;

    public KeyResealer(PgStore db) {
        this.db = db;
    }

    /**
     * @throws StoreUnavailableException when the store cannot be reached (what was re-sealed stays re-sealed; run it
     *     again)
     * @throws dev.onionrelay.store.StoreConfigurationException when this instance cannot be admitted (it lacks a key
     *     something is sealed under)
     */
    public Result reseal() {
        if (!db.prepare()) {
            throw new StoreUnavailableException("the store cannot be reached to re-seal", db.retryAfter(), null);
        }
        KeyEncryptionKey target = db.keys().ring().current();
        moveFleetKey(target);
        int settings = resealAll(target, "settings", "value", name -> name);
        int credentials = resealAll(target, "credentials", "private_key", name -> "credential:" + name);
        return db.transaction("announce the re-seal", connection -> {
            db.recordChange(connection, "setting", FleetKeys.KEY_CHECK, "updated");
            return new Result(target.id(), settings, credentials, FleetKeys.keyIdsInUse(connection));
        });
    }

    /** The key check row is sealed under {@code target}: from its commit on, every write seals under it. */
    private void moveFleetKey(KeyEncryptionKey target) {
        db.transaction("make key id " + target.id() + " the fleet's key", connection -> {
            try (PreparedStatement select =
                    connection.prepareStatement("SELECT value, key_id FROM settings WHERE name = ? FOR UPDATE")) {
                select.setString(1, FleetKeys.KEY_CHECK);
                try (ResultSet row = select.executeQuery()) {
                    row.next();
                    if (target.id().equals(row.getString(2))) {
                        return null;
                    }
                    byte[] plain = open(row.getBytes(1), row.getString(2), FleetKeys.KEY_CHECK);
                    try (PreparedStatement update =
                            connection.prepareStatement("UPDATE settings SET value = ?, key_id = ? WHERE name = ?")) {
                        update.setBytes(1, target.seal(plain, FleetKeys.KEY_CHECK));
                        update.setString(2, target.id());
                        update.setString(3, FleetKeys.KEY_CHECK);
                        update.executeUpdate();
                    }
                }
            }
            db.recordChange(connection, "setting", FleetKeys.KEY_CHECK, "updated");
            return null;
        });
    }

    /** Re-seals every row of {@code table} not under {@code target}; how many this call re-sealed. */
    private int resealAll(KeyEncryptionKey target, String table, String column, UnaryOperator<String> purposeOf) {
        int resealed = 0;
        for (int pass = 0; pass < MAX_PASSES; pass++) {
            List<Sealed> left = notUnder(target, table, column);
            if (left.isEmpty()) {
                return resealed;
            }
            for (Sealed row : left) {
                if (resealOne(target, table, column, row, purposeOf.apply(row.name()))) {
                    resealed++;
                }
            }
        }
        throw new IllegalStateException(table + " still holds rows not sealed under key id " + target.id() + " after "
                + MAX_PASSES + " passes (they change faster than they are re-sealed)");
    }

    private List<Sealed> notUnder(KeyEncryptionKey target, String table, String column) {
        return db.transaction("find what is not sealed under key id " + target.id(), connection -> {
            List<Sealed> rows = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement("SELECT name, " + column + ", key_id FROM "
                    + table + " WHERE key_id IS NOT NULL AND key_id <> ? ORDER BY name")) {
                select.setString(1, target.id());
                try (ResultSet row = select.executeQuery()) {
                    while (row.next()) {
                        rows.add(new Sealed(row.getString(1), row.getBytes(2), row.getString(3)));
                    }
                }
            }
            return rows;
        });
    }

    /** One conditional update: true when this call re-sealed the row, false when it changed or went meanwhile. */
    private boolean resealOne(KeyEncryptionKey target, String table, String column, Sealed row, String purpose) {
        byte[] plain = open(row.value(), row.keyId(), purpose);
        try {
            byte[] sealed = target.seal(plain, purpose);
            return db.transaction("re-seal " + table + " " + row.name(), connection -> {
                try (PreparedStatement update = connection.prepareStatement("UPDATE " + table + " SET " + column
                        + " = ?, key_id = ? WHERE name = ? AND key_id = ? AND " + column + " = ?")) {
                    update.setBytes(1, sealed);
                    update.setString(2, target.id());
                    update.setString(3, row.name());
                    update.setString(4, row.keyId());
                    update.setBytes(5, row.value());
                    return update.executeUpdate() == 1;
                }
            });
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    private byte[] open(byte[] sealed, String keyId, String purpose) {
        try {
            return db.keys().open(sealed, keyId, purpose);
        } catch (GeneralSecurityException e) {
            // Admission checked that every key in use is held, so this is damaged data, not a missing key.
            throw new IllegalStateException(
                    "a secret (" + purpose + ") sealed under key id " + keyId + " does not open; nothing of it changed",
                    e);
        }
    }
}
