package dev.onionrelay.api.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API's bearer tokens, kept only as SHA-256 digests. When none is configured, an admin token is generated once
 * into {@code <state-dir>/admin.token} (0600) and reused at later starts; its path is logged, never its value. An
 * instance of a fleet never generates one itself: it takes the fleet's from the store ({@link #loadForFleet}).
 */
public final class ApiTokens {

    private static final Logger LOG = LoggerFactory.getLogger(ApiTokens.class);
    private static final String ADMIN = "admin";
    private static final boolean POSIX =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    /** What a token may do: read (GET) or everything. */
    public enum Scope {
        READ,
        ADMIN
    }

    /** A known token: its name for audit lines, its scope, and the digest of its secret. */
    public record Token(String name, Scope scope, byte[] sha256) {}

    private volatile List<Token> tokens;
    private final boolean fleetAdmin;
    private final Path stateDir;

    private ApiTokens(List<Token> tokens, boolean fleetAdmin, Path stateDir) {
        this.tokens = List.copyOf(tokens);
        this.fleetAdmin = fleetAdmin;
        this.stateDir = stateDir;
    }

    /** Loads the configured tokens, or generates the admin token file when there are none. */
    public static ApiTokens load(ApiProperties properties, Path stateDir) {
        List<Token> tokens = configured(properties);
        if (tokens.isEmpty()) {
            tokens.add(new Token(ADMIN, Scope.ADMIN, sha256(generatedAdminToken(stateDir))));
        }
        return new ApiTokens(tokens, false, stateDir);
    }

    /**
     * Loads the tokens of an instance of a fleet: the configured ones or, when there are none, the fleet's admin
     * token, which lives in the store (sealed) and is never minted here. Until {@link #adoptFleetAdmin} gives it, the
     * {@code <state-dir>/admin.token} an earlier admission wrote is used; without one no call is accepted (an instance
     * that joins during an outage must not make a token of its own, which the fleet would not know).
     */
    public static ApiTokens loadForFleet(ApiProperties properties, Path stateDir) {
        List<Token> tokens = configured(properties);
        if (!tokens.isEmpty()) {
            return new ApiTokens(tokens, false, stateDir);
        }
        Path file = stateDir.resolve("admin.token");
        try {
            if (Files.exists(file)) {
                LOG.info("API admin token: the fleet's as of an earlier start, {}", file.toAbsolutePath());
                tokens.add(new Token(
                        ADMIN, Scope.ADMIN, sha256(Files.readString(file).trim())));
            } else {
                LOG.warn("API admin token: none until the fleet's is read from the store (no onion.api.tokens"
                        + " configured); every API call answers 401 meanwhile");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the admin token file " + file, e);
        }
        return new ApiTokens(tokens, true, stateDir);
    }

    /** Whether this instance takes its admin token from the fleet's store ({@link #adoptFleetAdmin}). */
    public boolean awaitsFleetAdmin() {
        return fleetAdmin;
    }

    /**
     * Takes the fleet's admin token (read from the store at admission) as this instance's only admin token, and
     * writes it to {@code <state-dir>/admin.token} (0600) for the operator and for a start during an outage.
     */
    public void adoptFleetAdmin(String token) {
        writeTokenFile(stateDir, token);
        tokens = List.of(new Token(ADMIN, Scope.ADMIN, sha256(token)));
        LOG.info(
                "API admin token: the fleet's, written to {}",
                stateDir.resolve("admin.token").toAbsolutePath());
    }

    private static List<Token> configured(ApiProperties properties) {
        List<Token> tokens = new ArrayList<>();
        for (ApiProperties.Token configured : properties.tokens()) {
            tokens.add(fromConfiguration(configured));
        }
        return tokens;
    }

    /** A new random admin token (256 bits, base64url). */
    public static String newToken() {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    }

    private static void writeTokenFile(Path stateDir, String token) {
        Path file = stateDir.resolve("admin.token");
        try {
            if (Files.exists(file) && Files.readString(file).trim().equals(token)) {
                return;
            }
            Files.createDirectories(stateDir);
            Path temporary = stateDir.resolve("admin.token.tmp");
            Files.deleteIfExists(temporary);
            Files.createFile(temporary);
            if (POSIX) {
                // Permissions first, content second: the token is never readable by others, even briefly.
                Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-------"));
            }
            Files.writeString(temporary, token + "\n");
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the admin token file " + file, e);
        }
    }

    /** One configured token, its secret reduced to a digest. */
    static Token fromConfiguration(ApiProperties.Token configured) {
        String name = configured.name();
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("onion.api.tokens[].name is required");
        }
        Scope scope = configured.scope();
        int given = (configured.secret() != null ? 1 : 0)
                + (configured.sha256() != null ? 1 : 0)
                + (configured.file() != null ? 1 : 0);
        if (given != 1) {
            throw new IllegalArgumentException("API token '" + name + "' needs exactly one of secret, sha256 or file");
        }
        if (configured.secret() != null) {
            return new Token(name, scope, sha256(configured.secret()));
        }
        if (configured.sha256() != null) {
            return new Token(
                    name,
                    scope,
                    HexFormat.of().parseHex(configured.sha256().trim().toLowerCase(Locale.ROOT)));
        }
        try {
            return new Token(
                    name, scope, sha256(Files.readString(configured.file()).trim()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the file of API token '" + name + "'", e);
        }
    }

    private static String generatedAdminToken(Path stateDir) {
        Path file = stateDir.resolve("admin.token");
        try {
            if (Files.exists(file)) {
                LOG.info("API admin token: using {}", file.toAbsolutePath());
                return Files.readString(file).trim();
            }
            String token = newToken();
            writeTokenFile(stateDir, token);
            LOG.info("API admin token generated into {} (no onion.api.tokens configured)", file.toAbsolutePath());
            return token;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the admin token file " + file, e);
        }
    }

    /** The token whose secret is {@code presented}, compared in constant time against every known token. */
    public Optional<Token> match(String presented) {
        byte[] digest = sha256(presented);
        Token found = null;
        for (Token token : tokens) {
            if (MessageDigest.isEqual(digest, token.sha256()) && found == null) {
                found = token;
            }
        }
        return Optional.ofNullable(found);
    }

    static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
