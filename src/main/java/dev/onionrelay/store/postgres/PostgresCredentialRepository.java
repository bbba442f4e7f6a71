package dev.onionrelay.store.postgres;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.CredentialHolds;
import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.credential.PemCodec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Credentials in the fleet's database, private keys sealed with the key-encryption key. Lookups (what TLS layers
 * use) answer from the last state read, so relays keep working while the database is away; {@link #refresh} reads
 * it again. A credential used by a relay of any instance cannot be deleted: the database refuses it (the relay's row
 * references the credential), and a relay being created on this instance holds its credentials locally as well.
 * Credentials from configured files ({@link #put}) stay on this instance.
 */
public final class PostgresCredentialRepository implements CredentialRepository {

    private static final System.Logger LOG = System.getLogger(PostgresCredentialRepository.class.getName());
    private static final String NAME_FIELD = "name";
    private static final String UNIQUE_VIOLATION = "23505";
    private static final String FOREIGN_KEY_VIOLATION = "23503";

    /** A credential as stored: the private key sealed (never in the clear outside this process). */
    public record Row(
            String name,
            String certificatePem,
            byte @Nullable [] sealedKey,
            @Nullable String keyId,
            Instant createdAt,
            long version,
            @Nullable Instant rotatedAt) {

        public Row {
            version = Math.max(version, 1); // absent (0) in snapshots written before versions existed
        }

        /** A row as created: version 1, never rotated. */
        public Row(
                String name,
                String certificatePem,
                byte @Nullable [] sealedKey,
                @Nullable String keyId,
                Instant createdAt) {
            this(name, certificatePem, sealedKey, keyId, createdAt, 1, null);
        }
    }

    private final PgStore db;
    private final CredentialStore builder = new CredentialStore(null);
    private volatile Map<String, Credential> stored = Map.of();
    private volatile List<Row> rows = List.of();
    /** Writes of this instance applied to {@link #stored}, so that a refresh can tell whether its read predates one. */
    private long writes;

    private final Map<String, Credential> local = new ConcurrentHashMap<>();
    // This instance's view of which relays hold which names; guarded by this, as deletes are. The database, where
    // each relay's row references its credentials, is the judge across instances.
    private final CredentialHolds holds = new CredentialHolds();

    public PostgresCredentialRepository(PgStore db) {
        this.db = db;
    }

    /**
     * Reads every stored credential again; what {@link #find} answers from afterwards.
     *
     * @return the names that appeared, disappeared or changed
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached (the last state stays)
     */
    public Set<String> refresh() {
        for (int attempt = 1; ; attempt++) {
            long writesBefore;
            synchronized (this) {
                writesBefore = writes;
            }
            List<Row> read = readRows();
            // A row sealed under a key this instance lacks (the fleet was re-sealed under a key it was not given): a
            // configuration error, named, while the last state keeps serving; never a credential silently dropped.
            db.keys().requireHeld(read.stream().map(Row::keyId).toList());
            synchronized (this) {
                // A write of this instance committed while the rows were read: they may predate it, and taking them
                // would drop what it created (or bring back what it deleted) until the next sync. Read again.
                if (writes == writesBefore) {
                    return apply(read);
                }
                if (attempt == 3) {
                    return Set.of(); // busy: the next sync (every write announces one) reads again
                }
            }
        }
    }

    private List<Row> readRows() {
        return db.transaction("load credentials", connection -> {
            List<Row> all = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(
                            "SELECT name, certificate_pem, private_key, key_id, created_at, version, rotated_at"
                                    + " FROM credentials ORDER BY name");
                    ResultSet row = select.executeQuery()) {
                while (row.next()) {
                    all.add(new Row(
                            row.getString(1),
                            row.getString(2),
                            row.getBytes(3),
                            row.getString(4),
                            row.getTimestamp(5).toInstant(),
                            row.getLong(6),
                            row.getTimestamp(7) == null
                                    ? null
                                    : row.getTimestamp(7).toInstant()));
                }
            }
            return all;
        });
    }

    /** Takes {@code read} as the stored state (from the database or a snapshot); returns the names that changed. */
    public synchronized Set<String> apply(List<Row> read) {
        Map<String, Credential> next = new TreeMap<>();
        Map<String, Credential> previous = stored;
        for (Row row : read) {
            Credential known = previous.get(row.name());
            Row before = rows.stream()
                    .filter(r -> r.name().equals(row.name()))
                    .findFirst()
                    .orElse(null);
            if (known != null && before != null && sameRow(before, row)) {
                next.put(row.name(), known);
                continue;
            }
            try {
                Credential opened = open(db.keys(), row);
                // Re-sealed under another key, the same credential: relays using it are left alone.
                next.put(row.name(), known != null && sameCredential(known, opened) ? known : opened);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "skipping stored credential {0}: {1}", row.name(), e.getMessage());
            }
        }
        Set<String> changed = new TreeSet<>();
        for (String name : previous.keySet()) {
            if (!next.containsKey(name) || next.get(name) != previous.get(name)) {
                changed.add(name);
            }
        }
        for (String name : next.keySet()) {
            if (!previous.containsKey(name)) {
                changed.add(name);
            }
        }
        stored = Map.copyOf(next);
        rows = List.copyOf(read);
        return changed;
    }

    /** The stored credentials as last read, keys sealed: what a snapshot keeps. */
    public List<Row> rows() {
        return rows;
    }

    private static boolean sameRow(Row a, Row b) {
        return a.certificatePem().equals(b.certificatePem())
                && Arrays.equals(a.sealedKey(), b.sealedKey())
                && a.createdAt().equals(b.createdAt())
                && a.version() == b.version();
    }

    private static boolean sameCredential(Credential a, Credential b) {
        return a.chain().equals(b.chain())
                && a.createdAt().equals(b.createdAt())
                && (a.privateKey() == null
                        ? b.privateKey() == null
                        : b.privateKey() != null
                                && Arrays.equals(
                                        a.privateKey().getEncoded(),
                                        b.privateKey().getEncoded()));
    }

    private static Credential open(FleetKeys keys, Row row) {
        PrivateKey key = null;
        if (row.sealedKey() != null) {
            byte[] pem;
            try {
                pem = keys.open(row.sealedKey(), row.keyId(), purpose(row.name()));
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("its private key does not open with key-encryption key "
                        + keys.ring().ids() + " (sealed with " + row.keyId() + ")");
            }
            try {
                key = PemCodec.parsePrivateKey(new String(pem, StandardCharsets.US_ASCII));
            } finally {
                Arrays.fill(pem, (byte) 0);
            }
        }
        Credential created =
                Credential.of(row.name(), PemCodec.parseCertificates(row.certificatePem()), key, row.createdAt());
        return new Credential(
                created.name(),
                created.kind(),
                created.chain(),
                key,
                created.createdAt(),
                row.version(),
                row.rotatedAt());
    }

    static String purpose(String name) {
        return "credential:" + name;
    }

    @Override
    public Credential create(NewCredential request) {
        String name = request.name();
        CredentialStore.requireValidName(name);
        db.requireAdmitted();
        if (find(name).isPresent()) {
            throw CredentialException.conflict(NAME_FIELD, "credential '" + name + "' already exists");
        }
        Credential credential = builder.prepare(request, this::find);
        String certificatePem = PemCodec.certificatesToPem(credential.chain());
        byte[] pem = credential.privateKey() == null
                ? null
                : PemCodec.privateKeyToPem(credential.privateKey()).getBytes(StandardCharsets.US_ASCII);
        Row row;
        synchronized (this) {
            if (local.containsKey(name)) {
                throw CredentialException.conflict(NAME_FIELD, "credential '" + name + "' already exists");
            }
            try {
                row = db.transaction("create credential " + name, connection -> {
                    // Sealed in the transaction that stores it, under the key the fleet seals under now.
                    FleetKeys.Sealed sealed = pem == null ? null : db.keys().seal(connection, pem, purpose(name));
                    Row created = new Row(
                            name,
                            certificatePem,
                            sealed == null ? null : sealed.value(),
                            sealed == null ? null : sealed.keyId(),
                            credential.createdAt(),
                            credential.version(),
                            credential.rotatedAt());
                    try (PreparedStatement insert = connection.prepareStatement(
                            "INSERT INTO credentials (name, certificate_pem, private_key, key_id, created_at)"
                                    + " VALUES (?, ?, ?, ?, ?)")) {
                        insert.setString(1, created.name());
                        insert.setString(2, created.certificatePem());
                        insert.setBytes(3, created.sealedKey());
                        insert.setString(4, created.keyId());
                        insert.setTimestamp(5, Timestamp.from(created.createdAt()));
                        insert.executeUpdate();
                    }
                    db.recordChange(connection, "credential", name, "created");
                    return created;
                });
            } catch (PgStore.StatementException e) {
                if (UNIQUE_VIOLATION.equals(e.sqlState())) {
                    throw CredentialException.conflict(NAME_FIELD, "credential '" + name + "' already exists");
                }
                throw e;
            } finally {
                if (pem != null) {
                    Arrays.fill(pem, (byte) 0);
                }
            }
            Map<String, Credential> next = new TreeMap<>(stored);
            next.put(name, credential);
            stored = Map.copyOf(next);
            writes++;
            List<Row> nextRows = new ArrayList<>(rows);
            nextRows.add(row);
            rows = List.copyOf(nextRows);
        }
        return credential;
    }

    /**
     * Rotates a stored credential in the database (see {@link CredentialRotationStatement} for how the database keeps
     * the rules across instances); other instances read it at their next sync, announced by the change feed.
     *
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached
     */
    @Override
    public Credential rotate(NewCredential request) {
        String name = request.name();
        if (keptLocally(name)) {
            throw CredentialStore.fromFiles(name);
        }
        Credential current = find(name).orElseThrow(() -> CredentialException.notFound(name));
        db.requireAdmitted();
        Credential replacement = builder.prepare(request, this::find);
        synchronized (this) {
            if (current.kind() == Credential.Kind.IDENTITY && replacement.kind() == Credential.Kind.TRUST) {
                // Relays being created here or declared in this instance's configuration are not in the database yet.
                holds.requireNotPresented(name);
            }
            byte[] pem = replacement.privateKey() == null
                    ? null
                    : PemCodec.privateKeyToPem(replacement.privateKey()).getBytes(StandardCharsets.US_ASCII);
            Row row;
            try {
                row = new CredentialRotationStatement(db)
                        .rotate(name, PemCodec.certificatesToPem(replacement.chain()), pem);
            } finally {
                if (pem != null) {
                    Arrays.fill(pem, (byte) 0);
                }
            }
            Credential rotated = open(db.keys(), row);
            Map<String, Credential> next = new TreeMap<>(stored);
            next.put(name, rotated);
            stored = Map.copyOf(next);
            writes++;
            List<Row> nextRows = new ArrayList<>(rows);
            nextRows.removeIf(r -> r.name().equals(name));
            nextRows.add(row);
            rows = List.copyOf(nextRows);
            return rotated;
        }
    }

    @Override
    public synchronized void put(Credential credential) {
        CredentialStore.requireValidName(credential.name());
        if (stored.containsKey(credential.name())) {
            throw CredentialException.conflict(
                    NAME_FIELD, "credential '" + credential.name() + "' already exists in the shared store");
        }
        local.put(credential.name(), credential);
    }

    /** Whether {@code name} is a credential from a configured file, kept on this instance and not in the store. */
    public boolean keptLocally(String name) {
        return local.containsKey(name) && !stored.containsKey(name);
    }

    @Override
    public Optional<Credential> find(String name) {
        if (name == null) {
            return Optional.empty();
        }
        Credential found = stored.get(name);
        return Optional.ofNullable(found != null ? found : local.get(name));
    }

    @Override
    public List<Credential> list() {
        Map<String, Credential> all = new TreeMap<>(local);
        all.putAll(stored);
        return all.values().stream()
                .sorted(Comparator.comparing(Credential::name))
                .toList();
    }

    @Override
    public synchronized void hold(String holder, String holderName, Collection<String> names) {
        holds.hold(holder, holderName, names);
    }

    @Override
    public synchronized void hold(
            String holder, String holderName, Collection<String> names, Collection<String> presented) {
        holds.hold(holder, holderName, names, presented);
    }

    @Override
    public synchronized void release(String holder) {
        holds.release(holder);
    }

    @Override
    public synchronized List<String> holdersOf(String name) {
        return holds.holdersOf(name);
    }

    /**
     * @throws CredentialException NOT_FOUND, or CONFLICT while a relay of this or any other instance uses it
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached
     */
    @Override
    public synchronized void delete(String name) {
        if (name == null) {
            throw CredentialException.notFound("");
        }
        // A name this instance has not read yet may still be in the database: the database answers.
        holds.requireNotHeld(name);
        if (local.containsKey(name) && !stored.containsKey(name)) {
            local.remove(name);
            return;
        }
        db.requireAdmitted();
        boolean deleted;
        try {
            deleted = db.transaction("delete credential " + name, connection -> {
                try (PreparedStatement delete = connection.prepareStatement("DELETE FROM credentials WHERE name = ?")) {
                    delete.setString(1, name);
                    if (delete.executeUpdate() == 0) {
                        return false;
                    }
                }
                db.recordChange(connection, "credential", name, "deleted");
                return true;
            });
        } catch (PgStore.StatementException e) {
            if (FOREIGN_KEY_VIOLATION.equals(e.sqlState())) {
                throw CredentialHolds.inUse(name, usersOf(name));
            }
            throw e;
        }
        Map<String, Credential> next = new TreeMap<>(stored);
        next.remove(name);
        stored = Map.copyOf(next);
        writes++;
        rows = rows.stream().filter(row -> !row.name().equals(name)).toList();
        if (!deleted) {
            throw CredentialException.notFound(name);
        }
    }

    private List<String> usersOf(String name) {
        try {
            return db.transaction("name the relays using credential " + name, connection -> {
                List<String> users = new ArrayList<>();
                try (PreparedStatement select = connection.prepareStatement(
                        "SELECT r.name FROM relay_credentials u JOIN relays r ON r.id = u.relay_id"
                                + " WHERE u.credential_name = ? ORDER BY r.created_at")) {
                    select.setString(1, name);
                    try (ResultSet row = select.executeQuery()) {
                        while (row.next()) {
                            users.add(row.getString(1));
                        }
                    }
                }
                return users;
            });
        } catch (RuntimeException e) {
            return List.of("(unknown)");
        }
    }
}
