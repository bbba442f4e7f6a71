package dev.onionrelay.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The key-encryption keys one instance holds: its {@link #current()} key (what it wants secrets sealed under) and the
 * previous ones it still opens, by id. Which key a fleet seals new secrets under is not this instance's choice: the
 * store names it (see {@code FleetKeys}), so that instances holding different sets during a rotation agree.
 */
public final class KeyRing {

    /** The setting naming the current key's file. */
    public static final String CURRENT_SETTING = "onion.store.encryption-key-file";

    /** The setting listing the previous keys' files. */
    public static final String PREVIOUS_SETTING = "onion.store.previous-encryption-key-files";

    private final KeyEncryptionKey current;
    private final Map<String, KeyEncryptionKey> byId;

    /**
     * @throws IllegalArgumentException when a previous key is the current one or repeats another
     */
    public KeyRing(KeyEncryptionKey current, List<KeyEncryptionKey> previous) {
        this.current = current;
        Map<String, KeyEncryptionKey> keys = new LinkedHashMap<>();
        keys.put(current.id(), current);
        for (KeyEncryptionKey key : previous) {
            if (keys.putIfAbsent(key.id(), key) != null) {
                throw new IllegalArgumentException("key id " + key.id() + " is given twice");
            }
        }
        this.byId = Map.copyOf(keys);
    }

    /** A ring of one key, as before rotation existed. */
    public static KeyRing of(KeyEncryptionKey current) {
        return new KeyRing(current, List.of());
    }

    /**
     * Reads the current key and the previous keys from their files.
     *
     * @throws StoreConfigurationException when a file cannot be read, holds no key, or repeats another key
     */
    public static KeyRing load(Path currentFile, List<Path> previousFiles) {
        KeyEncryptionKey current = KeyEncryptionKey.load(currentFile, CURRENT_SETTING);
        List<KeyEncryptionKey> previous = new ArrayList<>();
        for (Path file : previousFiles) {
            previous.add(KeyEncryptionKey.load(file, PREVIOUS_SETTING));
        }
        try {
            return new KeyRing(current, previous);
        } catch (IllegalArgumentException e) {
            throw new StoreConfigurationException(
                    PREVIOUS_SETTING + " repeats a key: " + e.getMessage(),
                    "List each previous key once, and not the current one.");
        }
    }

    /** The key this instance seals under once its fleet has moved to it. */
    public KeyEncryptionKey current() {
        return current;
    }

    /** The key of that id, if this instance holds it. */
    public Optional<KeyEncryptionKey> find(String id) {
        return id == null ? Optional.empty() : Optional.ofNullable(byId.get(id));
    }

    /** The ids of every key held, current included. */
    public Set<String> ids() {
        return byId.keySet();
    }

    @Override
    public String toString() {
        return "KeyRing[current=" + current.id() + ", held=" + ids() + "]";
    }
}
