package dev.onionrelay.observe;

import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * One audit line per proxied tunnel (CONNECT and SOCKS5 modes), on the audit logger the API's mutating calls use:
 * relay, client, mode, the destination asked for, outcome and why. Destinations are here, never in metric labels.
 */
@Component
public class ProxyAuditLog implements RelayObserver {

    private static final Logger AUDIT = LoggerFactory.getLogger("dev.onionrelay.audit");

    @Override
    public void proxyRequest(
            Relay relay, String client, String mode, @Nullable String destination, String outcome, String detail) {
        AUDIT.info(
                "proxy relay={} client={} mode={} destination={} outcome={} detail={}",
                relay.spec().name(),
                client,
                mode,
                destination != null ? destination : "-",
                outcome,
                detail);
    }
}
