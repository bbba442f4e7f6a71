package dev.onionrelay.registry;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@link RelayRegistry#refresh} did after a credential's material changed: relays now on the new material, and
 * relays that kept the old one, with why.
 */
public record CredentialRefresh(List<String> refreshed, Map<String, String> failed) {
    public CredentialRefresh {
        refreshed = List.copyOf(refreshed);
        failed = Collections.unmodifiableMap(new LinkedHashMap<>(failed));
    }
}
