package dev.onionrelay.credential;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which relays hold which credential names on this instance, and the in-use rule: a held credential cannot be
 * deleted. Both credential stores keep their holds here ({@link CredentialStore} for a directory, the PostgreSQL
 * repository for a fleet, where the database stays the judge across instances and this is only the instance's own
 * view of the relays it is creating or running).
 *
 * <p>Not thread-safe on purpose: the owning store calls it under the same lock that serialises its deletes, so that
 * a hold and a delete of the same name happen in one order, never both.
 */
public final class CredentialHolds {

    private static final String NAME_FIELD = "name";

    // credential name -> holder id -> holder name (the relay shown in a refusal)
    private final Map<String, Map<String, String>> holders = new HashMap<>();
    // The subset of the holds in which a layer presents the credential (names it as its identity): such a credential
    // cannot turn into a trust credential, which has no key to present.
    private final Map<String, Map<String, String>> presenters = new HashMap<>();

    /**
     * Marks {@code names} as used by {@code holder} (a relay's id; {@code holderName} is what a refused delete names).
     * Names that do not exist may be held too. Holding again adds to what the holder already holds.
     */
    public void hold(String holder, String holderName, Collection<String> names) {
        hold(holder, holderName, names, List.of());
    }

    /** Like {@link #hold(String, String, Collection)}; {@code presented} are the names a layer presents as identity. */
    public void hold(String holder, String holderName, Collection<String> names, Collection<String> presented) {
        for (String name : names) {
            holders.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(holder, holderName);
        }
        for (String name : presented) {
            holders.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(holder, holderName);
            presenters.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(holder, holderName);
        }
    }

    /** Lets go of everything {@code holder} holds. */
    public void release(String holder) {
        for (Map<String, Map<String, String>> byName : List.of(holders, presenters)) {
            byName.values().removeIf(held -> {
                held.remove(holder);
                return held.isEmpty();
            });
        }
    }

    /**
     * @throws CredentialException CONFLICT, naming the relays, while a layer presents {@code name}: what a rotation
     *     that would turn an identity into a trust credential meets
     */
    public void requireNotPresented(String name) {
        Map<String, String> held = presenters.get(name);
        if (held != null && !held.isEmpty()) {
            throw presented(name, List.copyOf(held.values()));
        }
    }

    /** The refusal of a rotation that would leave {@code relays}, which present {@code name}, without a key. */
    public static CredentialException presented(String name, List<String> relays) {
        return CredentialException.conflict(
                "privateKey",
                "credential '" + name + "' is presented by layers of relays " + relays
                        + "; it cannot become a trust credential (no private key) while they use it");
    }

    /** Names of the holders of a credential (relays using it), in the order they took it. */
    public List<String> holdersOf(String name) {
        Map<String, String> held = holders.get(name);
        return held == null ? List.of() : List.copyOf(held.values());
    }

    /**
     * @throws CredentialException CONFLICT, naming the relays, while anything holds {@code name}
     */
    public void requireNotHeld(String name) {
        List<String> relays = holdersOf(name);
        if (!relays.isEmpty()) {
            throw inUse(name, relays);
        }
    }

    /** The refusal of a delete of {@code name} while {@code relays} use it, however that was found out. */
    public static CredentialException inUse(String name, List<String> relays) {
        return CredentialException.conflict(NAME_FIELD, "credential '" + name + "' is used by relays " + relays);
    }
}
