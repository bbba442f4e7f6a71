package dev.onionrelay.registry;

import java.util.List;

/** Persistence of API-created relays. */
public interface RelayStore {

    void save(StoredRelay relay);

    void delete(String id);

    /**
     * Saves a replacement of a stored relay: {@code relay} (its next revision) is written only while the stored one is
     * still at {@code relay.revision() - 1}, so that of two replacements that read the same revision (through different
     * instances of a fleet, at once) one wins and the other is refused, never both applied one over the other.
     *
     * @throws dev.onionrelay.relay.RelayException CONFLICT when the stored revision moved on (or a rule of the store
     *     refuses the new spec, such as a port another relay has), NOT_FOUND when the relay is gone from the store
     */
    default void replace(StoredRelay relay) {
        save(relay);
    }

    List<StoredRelay> load();

    /** A store that forgets everything: for tests and for relays that must not survive a restart. */
    RelayStore NONE = new RelayStore() {
        @Override
        public void save(StoredRelay relay) {}

        @Override
        public void delete(String id) {}

        @Override
        public List<StoredRelay> load() {
            return List.of();
        }
    };
}
