package dev.onionrelay.boot;

import dev.onionrelay.registry.InvalidRequestException;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relays declared in {@code onion.relays[i]} (the path the Helm chart uses), opened at every start after file
 * credentials are loaded and before API-created relays are restored, so that a declared relay wins a name clash with a
 * stored one (which is then reported and kept on disk, not loaded). Declared relays are read-only over the API.
 *
 * <p>A declaration that is not a valid relay (a missing target, a bad duration, two declarations of one name) stops the
 * start with the property at fault: configuration is fixed by editing it, not at run time. One that is valid but
 * cannot open (port taken) stays {@code FAILED} with the reason and tries again, as status and health show.
 */
public final class DeclarativeRelays {

    private static final Logger LOG = LoggerFactory.getLogger(DeclarativeRelays.class);

    private final List<RelaySpec> specs = new ArrayList<>();

    /**
     * Reads the declarations with the same defaults as {@code POST /relays}: a declared relay means what the same JSON
     * would over the API.
     *
     * @throws IllegalStateException naming the property at fault when a declaration is not a valid relay
     */
    public DeclarativeRelays(OnionProperties properties) {
        List<RelayRequest> declared = properties.relays();
        RelayRequests.Defaults defaults = properties.relayDefaults();
        for (int i = 0; i < declared.size(); i++) {
            String property = property(i);
            try {
                specs.add(RelayRequests.toSpec(declared.get(i), defaults));
            } catch (InvalidRequestException e) {
                throw new IllegalStateException(property + " is not a valid relay: "
                        + e.errors().stream()
                                .map(problem -> property + "." + problem.field() + " " + problem.message())
                                .collect(Collectors.joining("; ")));
            }
        }
    }

    /** Opens every declared relay on {@code relays}; call before {@link RelayRegistry#restore()}. */
    public void open(RelayRegistry relays) {
        for (int i = 0; i < specs.size(); i++) {
            RelaySpec spec = specs.get(i);
            Relay relay;
            try {
                relay = relays.openDeclared(spec);
            } catch (RelayException e) {
                throw new IllegalStateException(
                        property(i) + "." + (e.field() != null ? e.field() : "name") + ": " + e.getMessage());
            }
            if (relay.state() == RelayState.LISTENING) {
                LOG.info(
                        "declared relay {} listening on {}, target {}",
                        spec.name(),
                        relay.spec().listen(),
                        spec.target());
            } else {
                LOG.warn("declared relay {} is {}: {}", spec.name(), relay.state(), relay.error());
            }
        }
    }

    private static String property(int index) {
        return "onion.relays[" + index + "]";
    }
}
