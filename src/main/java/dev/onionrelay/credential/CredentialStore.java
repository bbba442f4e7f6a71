package dev.onionrelay.credential;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The registry of credentials by name, safe for concurrent use, optionally backed by a directory
 * so that credentials created through the API survive restarts.
 *
 * <p>This class keeps the names: which exist, which relays hold them ({@link CredentialHolds}) and
 * when one may be created or deleted. The files on disk (their format, permissions and crash
 * safety) are {@link CredentialDirectory}'s, called under the same lock so that a name and its
 * files change together. Credentials registered with {@link #put} (from configured files) live in
 * memory only.
 */
public final class CredentialStore implements CredentialRepository {

    private static final String NAME_FIELD = "name";

    /**
     * A registered credential, whether it has files in the directory, and whether it came from configured files
     * ({@link #put}): those rotate with their files, never over the API.
     */
    private record Entry(Credential credential, boolean persistent, boolean configured) {}

    private final @Nullable CredentialDirectory files;
    private final Clock clock;
    private final DevelopmentCa developmentCa;
    private final ConcurrentMap<String, Entry> entries = new ConcurrentHashMap<>();
    // Reads go straight to the map; changes are serialised so "name is free" stays true until
    // the files are written and the entry is registered, and "nobody holds it" stays true
    // until a deleted credential's files are gone.
    private final Object changeLock = new Object();
    // Which relays hold which names; guarded by changeLock, so a hold and a delete of one name happen in one order.
    private final CredentialHolds holds = new CredentialHolds();

    /**
     * A store that keeps credentials in {@code directory} (created 0700 if missing) and loads
     * those already there, or, with {@code null}, one that keeps them in memory only.
     *
     * @throws UncheckedIOException if the directory cannot be created or listed
     */
    public CredentialStore(@Nullable Path directory) {
        this(directory, Clock.systemUTC());
    }

    public CredentialStore(@Nullable Path directory, Clock clock) {
        this.clock = clock;
        this.developmentCa = new DevelopmentCa(clock);
        if (directory == null) {
            this.files = null;
            return;
        }
        try {
            CredentialDirectory opened = new CredentialDirectory(directory);
            opened.loadAll().forEach((name, credential) -> entries.put(name, new Entry(credential, true, false)));
            this.files = opened;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use credential directory " + directory, e);
        }
    }

    /**
     * Validates the request, imports or generates the credential, persists it (when the store
     * has a directory) and registers it. On any failure nothing is registered or left on disk.
     *
     * @throws CredentialException INVALID for a bad name or content, CONFLICT for a taken name
     * @throws UncheckedIOException if the credential cannot be written
     */
    @Override
    public Credential create(NewCredential request) {
        String name = request.name();
        requireValidName(name);
        // Checked early so a taken name fails before any key is generated, and again under the lock.
        requireNameFree(name);
        Credential credential = build(request, this::find);
        synchronized (changeLock) {
            requireNameFree(name);
            if (files != null) {
                files.save(credential);
            }
            entries.put(name, new Entry(credential, files != null, false));
        }
        return credential;
    }

    /**
     * Rotates a created credential in place: the new material, validated like a create's, replaces the old under the
     * same name (its files replaced as one change, see {@link CredentialDirectory#replace}); the version goes up by one.
     *
     * @throws CredentialException NOT_FOUND, INVALID for bad content, CONFLICT for a credential from configured files or
     *     an identity that a relay's layers present and the request would make a trust credential
     * @throws UncheckedIOException if the new material cannot be written (the old stays in use)
     */
    @Override
    public Credential rotate(NewCredential request) {
        String name = request.name();
        // Checked before any key is generated, and again under the lock.
        rotatable(name);
        Credential replacement = build(request, this::find);
        synchronized (changeLock) {
            Entry entry = rotatable(name);
            Credential current = entry.credential();
            if (current.kind() == Credential.Kind.IDENTITY && replacement.kind() == Credential.Kind.TRUST) {
                holds.requireNotPresented(name);
            }
            Credential rotated = current.rotatedTo(replacement, clock.instant().truncatedTo(ChronoUnit.MILLIS));
            if (entry.persistent() && files != null) {
                files.replace(rotated);
            }
            entries.put(name, new Entry(rotated, entry.persistent(), false));
            return rotated;
        }
    }

    private Entry rotatable(String name) {
        Entry entry = name == null ? null : entries.get(name);
        if (entry == null) {
            throw CredentialException.notFound(name);
        }
        if (entry.configured()) {
            throw fromFiles(name);
        }
        return entry;
    }

    /** The refusal of a rotation over the API of a credential that configured files define. */
    public static CredentialException fromFiles(String name) {
        return CredentialException.conflict(
                NAME_FIELD,
                "credential '" + name + "' is loaded from files (onion.credentials." + name
                        + "); it rotates when its files change");
    }

    /**
     * Validates a request and imports or generates its credential without keeping it: for a store that keeps
     * credentials elsewhere. A generated credential's issuer is looked up with {@code issuers}.
     *
     * @throws CredentialException INVALID for a bad name or content
     */
    public Credential prepare(NewCredential request, Function<String, Optional<Credential>> issuers) {
        requireValidName(request.name());
        return build(request, issuers);
    }

    private Credential build(NewCredential request, Function<String, Optional<Credential>> issuers) {
        if (request instanceof NewCredential.FromPem fromPem) {
            return importPem(fromPem);
        }
        if (request instanceof NewCredential.GenerateCa ca) {
            return developmentCa.generateCa(ca.name(), ca.commonName(), ca.validityOrDefault());
        }
        if (request instanceof NewCredential.GenerateIssued issued) {
            String issuerName = issued.issuer();
            if (issuerName == null || issuerName.isBlank()) {
                throw CredentialException.invalid(DevelopmentCa.ISSUER_FIELD, "issuer is required");
            }
            Credential issuer = issuers.apply(issuerName)
                    .orElseThrow(() -> CredentialException.invalid(
                            DevelopmentCa.ISSUER_FIELD, "unknown credential '" + issuerName + "'"));
            return developmentCa.issue(
                    issued.name(),
                    issuer,
                    issued.commonName(),
                    issued.dnsNames(),
                    issued.ipAddresses(),
                    issued.uris(),
                    issued.validityOrDefault());
        }
        throw new IllegalArgumentException(
                "unknown request " + request.getClass().getName());
    }

    private Credential importPem(NewCredential.FromPem request) {
        List<X509Certificate> chain = PemCodec.parseCertificates(request.certificatePem());
        String keyPem = request.privateKeyPem();
        PrivateKey key = keyPem == null ? null : PemCodec.parsePrivateKey(keyPem);
        if (key != null && !PemCodec.matches(key, chain.get(0))) {
            throw CredentialException.invalid(PemCodec.PRIVATE_KEY_FIELD, "private key does not match the certificate");
        }
        return Credential.of(request.name(), chain, key, clock.instant().truncatedTo(ChronoUnit.MILLIS));
    }

    /**
     * Registers a credential loaded elsewhere (configured certificate files), replacing an
     * earlier {@code put} of the same name; it is not written to the directory.
     *
     * @throws CredentialException INVALID for a bad name, CONFLICT if an API-created credential
     *     already has the name
     */
    @Override
    public void put(Credential credential) {
        requireValidName(credential.name());
        synchronized (changeLock) {
            Entry existing = entries.get(credential.name());
            if (existing != null && existing.persistent()) {
                throw CredentialException.conflict(
                        NAME_FIELD, "credential '" + credential.name() + "' already exists in the state directory");
            }
            entries.put(credential.name(), new Entry(credential, false, true));
        }
    }

    @Override
    public Optional<Credential> find(String name) {
        if (name == null) {
            return Optional.empty();
        }
        return Optional.ofNullable(entries.get(name)).map(Entry::credential);
    }

    /** All credentials, sorted by name. */
    @Override
    public List<Credential> list() {
        return entries.values().stream()
                .map(Entry::credential)
                .sorted(Comparator.comparing(Credential::name))
                .toList();
    }

    /**
     * Marks credentials as used by {@code holder} (a relay's id; {@code holderName} is what a
     * refused delete names) until {@link #release}: a held credential cannot be deleted. Taken
     * before a relay looks its credentials up, so that a delete either comes first (and the
     * relay then finds the credential gone) or is refused; never both succeed. Names that do not
     * exist may be held too. Holding again adds to what the holder already holds.
     */
    @Override
    public void hold(String holder, String holderName, Collection<String> names) {
        hold(holder, holderName, names, List.of());
    }

    /** Like {@link #hold(String, String, Collection)}; a presented identity cannot be rotated into a trust credential. */
    @Override
    public void hold(String holder, String holderName, Collection<String> names, Collection<String> presented) {
        synchronized (changeLock) {
            holds.hold(holder, holderName, names, presented);
        }
    }

    /** Lets go of everything {@code holder} holds. */
    @Override
    public void release(String holder) {
        synchronized (changeLock) {
            holds.release(holder);
        }
    }

    /** Names of the holders of a credential (relays using it), in the order they took it. */
    @Override
    public List<String> holdersOf(String name) {
        synchronized (changeLock) {
            return holds.holdersOf(name);
        }
    }

    /**
     * Unregisters the credential and removes its files, unless a relay holds it.
     *
     * @throws CredentialException NOT_FOUND if there is no such credential, CONFLICT while it is
     *     held
     * @throws UncheckedIOException if its certificate file cannot be removed (it then stays)
     */
    @Override
    public void delete(String name) {
        synchronized (changeLock) {
            Entry entry = name == null ? null : entries.get(name);
            if (entry == null) {
                throw CredentialException.notFound(name);
            }
            holds.requireNotHeld(name);
            if (entry.persistent() && files != null) {
                files.remove(name);
            }
            entries.remove(name);
        }
    }

    /**
     * @throws CredentialException INVALID unless {@code name} is a valid credential name
     */
    public static void requireValidName(@Nullable String name) {
        if (name == null || name.isEmpty()) {
            throw CredentialException.invalid(NAME_FIELD, "name is required");
        }
        if (!SafeName.isValid(name)) {
            throw CredentialException.invalid(
                    NAME_FIELD, "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    private void requireNameFree(String name) {
        if (entries.containsKey(name)) {
            throw CredentialException.conflict(NAME_FIELD, "credential '" + name + "' already exists");
        }
    }
}
