package dev.onionrelay.observe;

import dev.onionrelay.fleet.FleetMembers;
import dev.onionrelay.registry.RelayRegistry;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.stereotype.Component;

/**
 * {@code /actuator/onion} on the management port: relays, their configured and live layer depth, and where and why
 * handshakes fail (API.md, Actuator). {@code /actuator/onion/{relay}} (id or name) returns one relay's entry, 404 for
 * an unknown one. Reads counters and live stacks only: no lock on the engine, cheap with thousands of tunnels. The
 * report names this instance and counts the live members of its fleet.
 */
@Component
@Endpoint(id = "onion")
public class OnionEndpoint {

    private final RelayRegistry service;
    private final FleetMembers fleet;

    public OnionEndpoint(RelayRegistry service, FleetMembers fleet) {
        this.service = service;
        this.fleet = fleet;
    }

    @ReadOperation
    public OnionReport onion() {
        return OnionReport.of(
                service.list(),
                service.engine().provider().name(),
                fleet.self(),
                fleet.live().size());
    }

    @ReadOperation
    public OnionReport.@Nullable RelayReport relay(@Selector String relay) {
        return service.find(relay).map(OnionReport.RelayReport::of).orElse(null);
    }
}
