package dev.onionrelay.registry;

import dev.onionrelay.layer.KeyMaterial;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which credentials the relays use, and the holds that keep them: a relay holds the credentials its layers name (in the
 * credential store, through {@link KeyMaterial}) from before it looks them up until it is closed, so a credential
 * cannot be deleted while a relay that uses it exists or is being created. Apart from the registry because the
 * questions are about specs only (which names a spec holds, which relays use a name, which to rebuild when one
 * changes), and the answers are pure but for the hold itself.
 */
final class CredentialUse {

    /** The registry's logger: these lines are the registry's story, moved here with the code that tells it. */
    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());

    private final KeyMaterial keyMaterial;

    CredentialUse(KeyMaterial keyMaterial) {
        this.keyMaterial = keyMaterial;
    }

    /** Holds, for relay {@code id}, the credentials its layers name; see {@link #held}. */
    void hold(String id, RelaySpec spec) {
        keyMaterial.hold(id, spec.name(), held(spec), presented(spec));
    }

    /** Lets go of what relay {@code id} holds: it is closed, or its create failed. */
    void release(String id) {
        keyMaterial.release(id);
    }

    /** The credentials a relay holds: every layer's identity and trust, but the system trust store (not a credential). */
    static Set<String> held(RelaySpec spec) {
        Set<String> names = new LinkedHashSet<>();
        for (LayerSpec layer : allLayers(spec)) {
            if (layer.credential() != null) {
                names.add(layer.credential());
            }
            if (layer.trust() != null && !LayerSpec.SYSTEM_TRUST.equals(layer.trust())) {
                names.add(layer.trust());
            }
        }
        return names;
    }

    /** The credentials a relay's layers present as their identity (a subset of {@link #held}). */
    static Set<String> presented(RelaySpec spec) {
        Set<String> names = new LinkedHashSet<>();
        for (LayerSpec layer : allLayers(spec)) {
            if (layer.credential() != null) {
                names.add(layer.credential());
            }
        }
        return names;
    }

    /** Whether a relay's layers use a credential, as identity or as trust. */
    static boolean uses(RelaySpec spec, String credentialName) {
        for (LayerSpec layer : allLayers(spec)) {
            if (credentialName.equals(layer.credential()) || credentialName.equals(layer.trust())) {
                return true;
            }
        }
        return false;
    }

    /** Names of the relays whose layers use a credential (as identity or as trust), in the order given. */
    static Set<String> relaysUsing(List<Relay> relays, String credentialName) {
        Set<String> users = new LinkedHashSet<>();
        for (Relay relay : relays) {
            if (uses(relay.spec(), credentialName)) {
                users.add(relay.spec().name());
            }
        }
        return users;
    }

    /**
     * The relays whose TLS contexts must be rebuilt after a credential's key material changed: those listening whose
     * layers use it. A FAILED relay builds its contexts afresh at its next try anyway.
     */
    static List<Relay> toRefresh(List<Relay> relays, String credentialName) {
        return relays.stream()
                .filter(relay -> relay.state() == RelayState.LISTENING && uses(relay.spec(), credentialName))
                .toList();
    }

    /**
     * Rebuilds the TLS contexts of the relays {@link #toRefresh} picks; one whose contexts cannot be rebuilt keeps its
     * current ones and is named in the result's {@code failed} map.
     */
    static CredentialRefresh refresh(List<Relay> relays, String credentialName, RelayOpener opener) {
        List<String> refreshed = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (Relay relay : toRefresh(relays, credentialName)) {
            RelaySpec spec = relay.spec();
            try {
                // A PUT /relays between the read of the spec and the swap changes the layers to prepare: read again.
                boolean swapped = false;
                for (int attempt = 0; attempt < 5 && !swapped; attempt++) {
                    swapped = relay.replaceLayers(
                            spec, opener.prepare(Side.INGRESS, spec), opener.prepare(Side.EGRESS, spec));
                    spec = swapped ? spec : relay.spec();
                }
                if (swapped) {
                    refreshed.add(spec.name());
                } else {
                    failed.put(spec.name(), "it was replaced five times while its contexts were rebuilt");
                }
            } catch (RelayException e) {
                failed.put(spec.name(), e.getMessage());
                LOG.log(
                        System.Logger.Level.WARNING,
                        "relay {0} keeps its TLS contexts: credential {1} changed but {2}",
                        spec.name(),
                        credentialName,
                        e.getMessage());
            }
        }
        if (!refreshed.isEmpty()) {
            LOG.log(
                    System.Logger.Level.INFO,
                    "credential {0} changed: new tunnels of relays {1} use it",
                    credentialName,
                    refreshed);
        }
        return new CredentialRefresh(refreshed, failed);
    }

    private static List<LayerSpec> allLayers(RelaySpec spec) {
        List<LayerSpec> all = new ArrayList<>(spec.ingress());
        all.addAll(spec.egress());
        return all;
    }
}
