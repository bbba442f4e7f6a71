package dev.onionrelay.registry.file;

import dev.onionrelay.registry.StoredRelay;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The file format of one stored relay: the relay as JSON with a {@code schemaVersion} first. A file without one was
 * written before versions were recorded and has the layout of version 1. A file from a newer version is refused, not
 * guessed at: the relay is skipped (and reported) instead of opening with settings misread.
 *
 * <p>Version 2 stores the target as a mode, a list of endpoints and a balance; version 1 had one endpoint
 * ({@code "target": {"host", "port"}}), read as a fixed target with that one endpoint.
 */
public final class StoredRelayJson {

    /** The layout written now. Raise it, and read the older layouts here, when the layout changes. */
    public static final int SCHEMA_VERSION = 2;

    static final String VERSION_FIELD = "schemaVersion";

    // A relay stored before revisions existed has no "revision": read as 0, which StoredRelay takes as revision 1.
    private final JsonMapper json = JsonMapper.builder()
            .findAndAddModules()
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    public byte[] write(StoredRelay relay) {
        ObjectNode file = json.createObjectNode();
        file.put(VERSION_FIELD, SCHEMA_VERSION);
        file.setAll((ObjectNode) json.valueToTree(relay));
        return json.writerWithDefaultPrettyPrinter().writeValueAsBytes(file);
    }

    /**
     * @throws IllegalArgumentException for a file of a newer schema version, or one that is not a stored relay
     * @throws tools.jackson.core.JacksonException for a file that is not JSON
     */
    public StoredRelay read(byte[] content) {
        JsonNode tree = json.readTree(content);
        if (!(tree instanceof ObjectNode file)) {
            throw new IllegalArgumentException("not a stored relay: the file is not a JSON object");
        }
        JsonNode version = file.remove(VERSION_FIELD);
        int schemaVersion = version == null ? 1 : version.asInt(-1);
        if (schemaVersion < 1 || schemaVersion > SCHEMA_VERSION) {
            throw new IllegalArgumentException("schema version " + (version == null ? "?" : version.toString())
                    + " is not one this version reads (1 to " + SCHEMA_VERSION + ")");
        }
        if (schemaVersion == 1) {
            upgradeTarget(file);
        }
        return json.treeToValue(file, StoredRelay.class);
    }

    /** Version 1's single endpoint as version 2's fixed target. */
    private void upgradeTarget(ObjectNode file) {
        if (file.get("spec") instanceof ObjectNode spec && spec.get("target") instanceof ObjectNode endpoint) {
            ObjectNode target = json.createObjectNode();
            target.put("mode", "FIXED");
            target.putArray("endpoints").add(endpoint);
            target.put("balance", "FAILOVER");
            spec.set("target", target);
        }
    }
}
