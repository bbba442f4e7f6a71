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
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API's bearer tokens, kept only as SHA-256 digests. When none is configured, an admin token is generated once
 * into {@code <state-dir>/admin.token} (0600) and reused at later starts; its path is logged, never its value.
 */
public final class ApiTokens {

    private static final Logger LOG = LoggerFactory.getLogger(ApiTokens.class);
    private static final boolean POSIX =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    /** What a token may do: read (GET) or everything. */
    public enum Scope {
        READ,
        ADMIN
    }

    /** A known token: its name for audit lines, its scope, and the digest of its secret. */
    public record Token(String name, Scope scope, byte[] sha256) {}

    private final List<Token> tokens;

    private ApiTokens(List<Token> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    /** Loads the configured tokens, or generates the admin token file when there are none. */
    public static ApiTokens load(ApiProperties properties, Path stateDir) {
        return load(properties, stateDir, null);
    }

    /**
     * Loads the configured tokens or, when there are none, the admin token. With {@code shared} (a fleet's store) the
     * admin token is the fleet's: {@code shared} is given a freshly generated token and answers the one every
     * instance uses (the first one stored), which is then written to this instance's {@code <state-dir>/admin.token}.
     * A store that cannot be reached leaves the token file of an earlier start in use.
     */
    public static ApiTokens load(ApiProperties properties, Path stateDir, @Nullable UnaryOperator<String> shared) {
        List<Token> tokens = new ArrayList<>();
        for (ApiProperties.Token configured : properties.tokens()) {
            tokens.add(fromConfiguration(configured));
        }
        if (tokens.isEmpty()) {
            String admin = null;
            if (shared != null) {
                try {
                    admin = shared.apply(newToken());
                    writeTokenFile(stateDir, admin);
                    LOG.info(
                            "API admin token: the fleet's, written to {}",
                            stateDir.resolve("admin.token").toAbsolutePath());
                } catch (RuntimeException e) {
                    LOG.warn(
                            "the fleet's admin token cannot be read now ({}); using this instance's token file",
                            e.getMessage());
                }
            }
            if (admin == null) {
                admin = generatedAdminToken(stateDir);
            }
            tokens.add(new Token("admin", Scope.ADMIN, sha256(admin)));
        }
        return new ApiTokens(tokens);
    }

    private static String newToken() {
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
