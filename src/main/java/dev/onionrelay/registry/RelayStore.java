package dev.onionrelay.registry;

import java.util.List;

/** Persistence of API-created relays. */
public interface RelayStore {

    void save(StoredRelay relay);

    void delete(String id);

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
