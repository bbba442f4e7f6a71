package dev.onionrelay.config;

import dev.onionrelay.api.InvalidRequestException;
import dev.onionrelay.api.RelayRequest;
import dev.onionrelay.api.RelayRequests;
import dev.onionrelay.relay.OnionService;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;

/**
 * Opens the relays declared in {@code onion.relays[i]} (the path the Helm chart uses) at every start, after file
 * credentials are loaded and API-created relays restored, before the service reports ready.
 *
 * <p>A declaration that is not a valid relay (a missing target, a bad duration, a name taken by an API-created relay)
 * stops the start with the property at fault: configuration is fixed by editing it, not at run time. One that is
 * valid but cannot open (port taken, policy) stays {@code FAILED} with the reason, as status and health show.
 */
public final class DeclarativeRelays implements ApplicationRunner {

    private static final Logger LOG = LoggerFactory.getLogger(DeclarativeRelays.class);

    private final List<RelayRequest> declared;
    private final RelayRequests.Defaults defaults;
    private final OnionService relays;

    public DeclarativeRelays(OnionProperties properties, OnionService relays) {
        this.declared = properties.relays();
        // The same defaults as POST /relays: a declared relay means what the same JSON would over the API.
        this.defaults = RelayRequests.Defaults.from(
                properties.limits(), properties.tls().profile());
        this.relays = relays;
    }

    @Override
    public void run(ApplicationArguments args) {
        for (int i = 0; i < declared.size(); i++) {
            String property = "onion.relays[" + i + "]";
            RelaySpec spec;
            try {
                spec = RelayRequests.toSpec(declared.get(i), defaults);
            } catch (InvalidRequestException e) {
                throw new IllegalStateException(property + " is not a valid relay: "
                        + e.errors().stream()
                                .map(problem -> property + "." + problem.field() + " " + problem.message())
                                .collect(Collectors.joining("; ")));
            }
            Relay relay;
            try {
                relay = relays.openDeclared(spec);
            } catch (RelayException e) {
                throw new IllegalStateException(
                        property + "." + (e.field() != null ? e.field() : "name") + ": " + e.getMessage());
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
}
