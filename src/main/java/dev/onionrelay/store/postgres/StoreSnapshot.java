package dev.onionrelay.store.postgres;

import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.registry.file.StoredRelayJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The last state an instance read from the shared store, in its state directory, so that it can serve its relays
 * when it starts while the database is away. Written after every successful read, atomically (a temporary file
 * renamed over the old one), 0600; private keys stay sealed with the key-encryption key, as in the database.
 */
public final class StoreSnapshot {

    /** What a snapshot holds: the stored relays and the stored credentials (keys sealed). */
    public record State(List<StoredRelay> relays, List<PostgresCredentialRepository.Row> credentials) {}

    private static final System.Logger LOG = System.getLogger(StoreSnapshot.class.getName());
    private static final int SCHEMA_VERSION = 1;

    private final Path file;
    private final JsonMapper json = JsonMapper.builder().findAndAddModules().build();
    private final StoredRelayJson relayJson = new StoredRelayJson();

    public StoreSnapshot(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    public void write(State state) {
        ObjectNode root = json.createObjectNode();
        root.put("schemaVersion", SCHEMA_VERSION);
        root.put("writtenAt", Instant.now().toString());
        ArrayNode relays = root.putArray("relays");
        for (StoredRelay relay : state.relays()) {
            relays.add(json.readTree(relayJson.write(relay)));
        }
        ArrayNode credentials = root.putArray("credentials");
        for (PostgresCredentialRepository.Row row : state.credentials()) {
            ObjectNode credential = credentials.addObject();
            credential.put("name", row.name());
            credential.put("certificatePem", row.certificatePem());
            credential.put(
                    "sealedKey",
                    row.sealedKey() == null ? null : Base64.getEncoder().encodeToString(row.sealedKey()));
            credential.put("keyId", row.keyId());
            credential.put("createdAt", row.createdAt().toString());
            credential.put("version", row.version());
            credential.put(
                    "rotatedAt",
                    row.rotatedAt() == null ? null : row.rotatedAt().toString());
        }
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            Files.deleteIfExists(temporary);
            try {
                Files.createFile(
                        temporary, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(temporary);
            }
            Files.write(temporary, json.writeValueAsBytes(root));
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the store snapshot " + file, e);
        }
    }

    /** The snapshot, if there is a readable one. */
    public Optional<State> read() {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            JsonNode root = json.readTree(Files.readAllBytes(file));
            List<StoredRelay> relays = new ArrayList<>();
            for (JsonNode relay : root.path("relays")) {
                relays.add(relayJson.read(json.writeValueAsBytes(relay)));
            }
            List<PostgresCredentialRepository.Row> credentials = new ArrayList<>();
            for (JsonNode credential : root.path("credentials")) {
                JsonNode sealed = credential.path("sealedKey");
                JsonNode keyId = credential.path("keyId");
                credentials.add(new PostgresCredentialRepository.Row(
                        credential.path("name").asString(),
                        credential.path("certificatePem").asString(),
                        sealed.isNull() || sealed.isMissingNode()
                                ? null
                                : Base64.getDecoder().decode(sealed.asString()),
                        keyId.isNull() || keyId.isMissingNode() ? null : keyId.asString(),
                        Instant.parse(credential.path("createdAt").asString()),
                        credential.path("version").asLong(1),
                        credential.path("rotatedAt").isString()
                                ? Instant.parse(credential.path("rotatedAt").asString())
                                : null));
            }
            return Optional.of(new State(relays, credentials));
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "ignoring unreadable store snapshot {0}: {1}", file, e.getMessage());
            return Optional.empty();
        }
    }
}
