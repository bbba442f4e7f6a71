package dev.onionrelay.demo;

import dev.onionrelay.boot.OnionProperties;
import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.relay.Relay;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Profile;
import org.springframework.stereotype.Component;

/**
 * The {@code demo} profile: builds a three-hop onion on loopback in front of this service's own API port, through
 * the same service calls the REST API uses, and prints how to try it. Idempotent: what exists already is reused.
 *
 * <pre>
 * client -> demo-entry [egress h1, h2] -> demo-h1 [ingress h1] -> demo-h2 [ingress h2] -> 127.0.0.1:API port
 * </pre>
 */
@Component
@Profile("demo")
@EnableConfigurationProperties(DemoOnion.Ports.class)
public class DemoOnion implements ApplicationRunner {

    private static final Logger LOG = LoggerFactory.getLogger(DemoOnion.class);

    /** Demo listen ports; 0 picks free ones (tests do). */
    @ConfigurationProperties("onion.demo")
    public record Ports(
            @DefaultValue("7000") int entryPort,
            @DefaultValue("7001") int h1Port,
            @DefaultValue("7002") int h2Port) {}

    private final RelayRegistry relays;
    private final CredentialRepository credentials;
    private final OnionProperties properties;
    private final Ports ports;
    private final ApplicationContext context;

    public DemoOnion(
            RelayRegistry relays,
            CredentialRepository credentials,
            OnionProperties properties,
            Ports ports,
            ApplicationContext context) {
        this.relays = relays;
        this.credentials = credentials;
        this.properties = properties;
        this.ports = ports;
        this.context = context;
    }

    @Override
    public void run(ApplicationArguments args) {
        int apiPort = ((WebServerApplicationContext) context).getWebServer().getPort();
        credential("demo-ca", new NewCredential.GenerateCa("demo-ca", "onion-relay demo CA", null));
        for (String hop : List.of("demo-h1", "demo-h2")) {
            credential(
                    hop,
                    new NewCredential.GenerateIssued(
                            hop, "demo-ca", hop, List.of("localhost"), List.of("127.0.0.1"), null));
        }
        Relay h2 = relay("demo-h2", ports.h2Port(), apiPort, List.of(server("h2", "demo-h2")), List.of());
        Relay h1 = relay(
                "demo-h1", ports.h1Port(), h2.spec().listen().port(), List.of(server("h1", "demo-h1")), List.of());
        Relay entry = relay(
                "demo-entry",
                ports.entryPort(),
                h1.spec().listen().port(),
                List.of(),
                List.of(client("h1"), client("h2")));
        int entryPort = entry.spec().listen().port();
        LOG.info(
                """

                onion-relay demo: a three-hop onion on loopback
                  demo-entry 127.0.0.1:{} wraps layers h1, h2
                  -> demo-h1 127.0.0.1:{} peels h1 (sees only h2 ciphertext)
                  -> demo-h2 127.0.0.1:{} peels h2
                  -> 127.0.0.1:{} (this service's API)
                try it:    curl -s http://127.0.0.1:{}/v3/api-docs | head -c 300; echo
                watch it:  curl -s -H "Authorization: Bearer $(cat {}/admin.token)" http://127.0.0.1:{}/relays/demo-entry/tunnels
                """,
                entryPort,
                h1.spec().listen().port(),
                h2.spec().listen().port(),
                apiPort,
                entryPort,
                properties.stateDir(),
                apiPort);
    }

    private void credential(String name, NewCredential request) {
        if (credentials.find(name).isEmpty()) {
            credentials.create(request);
        }
    }

    private Relay relay(String name, int port, int targetPort, List<LayerRequest> ingress, List<LayerRequest> egress) {
        return relays.find(name)
                .orElseGet(() -> relays.create(new RelayRequest(
                        name,
                        new RelayRequest.EndpointRequest("127.0.0.1", port),
                        RelayRequest.TargetRequest.fixed("127.0.0.1", targetPort),
                        ingress,
                        egress,
                        null)));
    }

    private static LayerRequest server(String name, String credential) {
        return layer(name, credential, null);
    }

    private static LayerRequest client(String name) {
        return layer(name, null, "demo-ca");
    }

    private static LayerRequest layer(String name, @Nullable String credential, @Nullable String trust) {
        return new LayerRequest(
                name,
                null,
                credential,
                trust,
                trust != null ? "localhost" : null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null);
    }
}
