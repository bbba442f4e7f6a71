package dev.onionrelay.store.postgres;

import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.CredentialHolds;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One rotation of a stored credential, as one transaction in which the database keeps the rules that span instances:
 *
 * <ul>
 *   <li>The row is locked {@code FOR UPDATE} first. That lock conflicts with the {@code FOR KEY SHARE} a relay's save
 *       takes on the credentials it names ({@link PostgresRelayStore}), so a rotation and a relay saved with the
 *       credential on another instance happen one after the other, each seeing the other's result: a relay that
 *       presents the credential is either found here (and an identity is not turned into a trust credential), or its
 *       save comes after and finds the credential without a key (and is refused).
 *   <li>The update is conditional on the version read under the lock, so {@code version} counts every rotation once
 *       whichever instances they reach.
 * </ul>
 */
final class CredentialRotationStatement {

    // The relays whose stored spec names the credential as a layer's identity, on either side.
    private static final String PRESENTED_BY = "SELECT name FROM relays"
            + " WHERE jsonb_path_exists(stored, '$.spec.ingress[*] ? (@.credential == $n)', jsonb_build_object('n', ?::text))"
            + " OR jsonb_path_exists(stored, '$.spec.egress[*] ? (@.credential == $n)', jsonb_build_object('n', ?::text))"
            + " ORDER BY created_at";

    private final PgStore db;

    CredentialRotationStatement(PgStore db) {
        this.db = db;
    }

    /**
     * Replaces the material of credential {@code name}: its chain, and its key sealed in the same transaction under
     * the key the fleet seals under now (see {@link FleetKeys}).
     *
     * @param keyPem the new private key as PEM, null for a trust credential; the caller clears it afterwards
     *
     * @return the row as stored now: its creation time, the next version, the rotation time
     * @throws CredentialException NOT_FOUND when no instance has it (deleted meanwhile), CONFLICT when it is an
     *     identity that stored relays present and the replacement has no key
     */
    PostgresCredentialRepository.Row rotate(String name, String certificatePem, byte @Nullable [] keyPem) {
        return db.transaction("rotate credential " + name, connection -> {
            long version;
            boolean hadKey;
            try (PreparedStatement lock = connection.prepareStatement(
                    "SELECT version, private_key IS NOT NULL FROM credentials WHERE name = ? FOR UPDATE")) {
                lock.setString(1, name);
                try (ResultSet row = lock.executeQuery()) {
                    if (!row.next()) {
                        throw CredentialException.notFound(name);
                    }
                    version = row.getLong(1);
                    hadKey = row.getBoolean(2);
                }
            }
            if (hadKey && keyPem == null) {
                List<String> presenters = presentedBy(connection, name);
                if (!presenters.isEmpty()) {
                    throw CredentialHolds.presented(name, presenters);
                }
            }
            FleetKeys.Sealed sealed = keyPem == null
                    ? null
                    : db.keys().seal(connection, keyPem, PostgresCredentialRepository.purpose(name));
            PostgresCredentialRepository.Row rotated;
            try (PreparedStatement update = connection.prepareStatement("UPDATE credentials"
                    + " SET certificate_pem = ?, private_key = ?, key_id = ?, version = version + 1,"
                    + " rotated_at = date_trunc('milliseconds', now())"
                    + " WHERE name = ? AND version = ? RETURNING created_at, version, rotated_at")) {
                update.setString(1, certificatePem);
                update.setBytes(2, sealed == null ? null : sealed.value());
                update.setString(3, sealed == null ? null : sealed.keyId());
                update.setString(4, name);
                update.setLong(5, version);
                try (ResultSet row = update.executeQuery()) {
                    if (!row.next()) {
                        // Cannot happen under the row lock; said plainly should the lock ever be dropped.
                        throw new IllegalStateException("credential " + name + " changed under its row lock");
                    }
                    rotated = new PostgresCredentialRepository.Row(
                            name,
                            certificatePem,
                            sealed == null ? null : sealed.value(),
                            sealed == null ? null : sealed.keyId(),
                            row.getTimestamp(1).toInstant(),
                            row.getLong(2),
                            row.getTimestamp(3).toInstant());
                }
            }
            db.recordChange(connection, "credential", name, "updated");
            return rotated;
        });
    }

    private static List<String> presentedBy(Connection connection, String name) throws SQLException {
        List<String> relays = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(PRESENTED_BY)) {
            select.setString(1, name);
            select.setString(2, name);
            try (ResultSet row = select.executeQuery()) {
                while (row.next()) {
                    relays.add(row.getString(1));
                }
            }
        }
        return relays;
    }
}
