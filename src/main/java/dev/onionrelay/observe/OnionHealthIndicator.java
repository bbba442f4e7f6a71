package dev.onionrelay.observe;

import dev.onionrelay.relay.OnionService;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayState;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The {@code onion} health component: DOWN while any relay is FAILED (its port was taken at restore, its credential
 * is gone, ...), UP otherwise. Part of the readiness group, not of liveness: a failed relay needs an operator, and
 * restarting the process would not bring its port back. Details (when shown) name the failed relays and why.
 */
@Component
public class OnionHealthIndicator implements HealthIndicator {

    private final OnionService service;

    public OnionHealthIndicator(OnionService service) {
        this.service = service;
    }

    @Override
    public Health health() {
        Map<String, String> failed = new LinkedHashMap<>();
        int listening = 0;
        int relays = 0;
        for (Relay relay : service.list()) {
            relays++;
            if (relay.state() == RelayState.LISTENING) {
                listening++;
            } else if (relay.state() == RelayState.FAILED) {
                String error = relay.error();
                failed.put(relay.spec().name(), error != null ? error : "failed");
            }
        }
        Health.Builder health = failed.isEmpty() ? Health.up() : Health.down();
        health.withDetail("relays", relays).withDetail("listening", listening);
        if (!failed.isEmpty()) {
            health.withDetail("failed", failed);
        }
        return health.build();
    }
}
