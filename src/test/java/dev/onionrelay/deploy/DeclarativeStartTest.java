package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start order of configuration-driven state, and what a broken declaration does to the start. */
@Scenario
class DeclarativeStartTest {

    @TempDir
    Path work;

    @Test
    void apiCreatedRelaysThatUseAFileCredentialComeBackAfterARestart() throws Exception {
        TestPki pki = new TestPki();
        pki.ca("ca");
        Credential edge = pki.leaf("edge", "ca");
        MountedSecret secret = new MountedSecret(work.resolve("secret"));
        secret.write(Map.of(
                "tls.crt", PemCodec.certificatesToPem(edge.chain()),
                "tls.key", PemCodec.privateKeyToPem(edge.privateKey())));
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(
                        Files.createDirectory(work.resolve("state")),
                        "--onion.credentials.edge.certificate-file=" + secret.file("tls.crt"),
                        "--onion.credentials.edge.private-key-file=" + secret.file("tls.key"))) {
            ApiClient api = service.api();
            assertThat(api.post("/relays", """
                                    {"name": "api-exit", "listen": {"host": "127.0.0.1", "port": 0},
                                     "target": {"host": "127.0.0.1", "port": %d},
                                     "ingress": [{"credential": "edge"}]}
                                    """.formatted(echo.port())).status()).isEqualTo(201);

            service.stop();
            service.start();

            // Restored before file credentials were loaded, it would be FAILED with "unknown credential 'edge'".
            assertThat(service.api().get("/relays/api-exit").json().at("/state").asString())
                    .isEqualTo("LISTENING");
            try (Stream<Path> stored = Files.list(service.stateDir().resolve("credentials"))) {
                assertThat(stored.toList())
                        .as("file credentials are never written to the state directory")
                        .isEmpty();
            }
        }
    }

    @Test
    void declaredRelaysTakeEveryTargetForm() throws Exception {
        try (RunningService service = new RunningService(
                Files.createDirectory(work.resolve("forms")),
                "--onion.relays[0].name=fixed",
                "--onion.relays[0].target.host=127.0.0.1",
                "--onion.relays[0].target.port=7001",
                "--onion.relays[1].name=several",
                "--onion.relays[1].target.targets[0].host=127.0.0.1",
                "--onion.relays[1].target.targets[0].port=7001",
                "--onion.relays[1].target.targets[1].host=localhost",
                "--onion.relays[1].target.targets[1].port=7002",
                "--onion.relays[1].target.balance=round-robin",
                "--onion.relays[2].name=socks",
                "--onion.relays[2].target.mode=socks5")) {
            ApiClient api = service.api();
            assertThat(api.get("/relays/fixed").json().at("/target/port").asInt())
                    .isEqualTo(7001);
            assertThat(api.get("/relays/several")
                            .json()
                            .at("/target/targets/1/host")
                            .asString())
                    .isEqualTo("localhost");
            assertThat(api.get("/relays/several").json().at("/target/balance").asString())
                    .isEqualTo("round-robin");
            assertThat(api.get("/relays/socks").json().at("/target/mode").asString())
                    .isEqualTo("socks5");
        }
    }

    @Test
    void anInvalidDeclaredRelayStopsTheStartNamingTheProperty() {
        assertThatThrownBy(() -> new RunningService(
                                Files.createDirectory(work.resolve("state")),
                                "--onion.relays[0].name=exit",
                                "--onion.relays[0].listen.port=0",
                                "--onion.relays[0].target.host=127.0.0.1")
                        .close())
                .hasStackTraceContaining("onion.relays[0].target.port");
    }

    @Test
    void aMisspeltKeyInADeclaredRelayStopsTheStartNamingTheKey() {
        assertThatThrownBy(() -> new RunningService(
                                Files.createDirectory(work.resolve("typo")),
                                "--onion.relays[0].name=entry",
                                "--onion.relays[0].target.host=127.0.0.1",
                                "--onion.relays[0].target.port=7",
                                "--onion.relays[0].egres[0].trust=system")
                        .close())
                .hasStackTraceContaining("onion.relays[0].egres[0].trust");
    }

    @Test
    void aDeclaredLayerWithAnObsoleteProtocolStopsTheStartNamingTheSetting() {
        assertThatThrownBy(() -> new RunningService(
                                Files.createDirectory(work.resolve("obsolete")),
                                "--onion.relays[0].name=entry",
                                "--onion.relays[0].target.host=127.0.0.1",
                                "--onion.relays[0].target.port=7",
                                "--onion.relays[0].egress[0].protocols[0]=TLSv1")
                        .close())
                .hasStackTraceContaining("onion.relays[0].egress[0].protocols[0]")
                .hasStackTraceContaining("obsolete");
    }
}
