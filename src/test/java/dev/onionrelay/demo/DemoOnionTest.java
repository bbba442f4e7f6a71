package dev.onionrelay.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The demo profile builds a working three-hop onion in front of the service's own API, which answers on loopback only. */
@Scenario
class DemoOnionTest {

    @Test
    void demoOnionCarriesAnHttpRequestThroughThreeHopsToTheApi() throws Exception {
        try (RunningService service = RunningService.inTemporaryDirectory(
                "--spring.profiles.active=demo",
                "--onion.demo.entry-port=0",
                "--onion.demo.h1-port=0",
                "--onion.demo.h2-port=0")) {
            // The demo's API listens on loopback only: bound to every interface it would accept 127.0.0.2 too.
            int apiPort = service.apiPort();
            assertThatThrownBy(() -> new Socket(InetAddress.getByName("127.0.0.2"), apiPort).close())
                    .isInstanceOf(ConnectException.class);
            ApiClient api = service.api();
            JsonNode entry = api.get("/relays/demo-entry").json();
            assertThat(entry.get("egress").size()).isEqualTo(2);
            assertThat(api.get("/relays/demo-h1").json().get("ingress").size()).isEqualTo(1);
            assertThat(api.get("/relays/demo-h2").json().get("ingress").size()).isEqualTo(1);

            try (Socket client = new Socket(
                    InetAddress.getLoopbackAddress(),
                    entry.get("listen").get("port").asInt())) {
                // The first /v3/api-docs builds the document: 13 s on a loaded 2-core machine was seen.
                client.setSoTimeout(60_000);
                OutputStream out = client.getOutputStream();
                out.write(("GET /v3/api-docs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                client.shutdownOutput();
                InputStream in = client.getInputStream();
                String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertThat(response).startsWith("HTTP/1.1 200").contains("onion-relay API");
            }
            assertThat(api.get("/relays/demo-entry")
                            .json()
                            .get("stats")
                            .get("totalTunnels")
                            .asLong())
                    .isEqualTo(1);
            assertThat(api.get("/relays/demo-h2")
                            .json()
                            .get("stats")
                            .get("handshakeFailures")
                            .asLong())
                    .isZero();
        }
    }

    @Test
    void demoRelaysFollowTheConfiguredTlsProfileLikeApiRelays() throws Exception {
        try (RunningService service = RunningService.inTemporaryDirectory(
                "--spring.profiles.active=demo",
                "--onion.tls.profile=strict",
                "--onion.demo.entry-port=0",
                "--onion.demo.h1-port=0",
                "--onion.demo.h2-port=0")) {
            ApiClient api = service.api();
            for (String relay : java.util.List.of("demo-entry", "demo-h1", "demo-h2")) {
                JsonNode view = api.get("/relays/" + relay).json();
                for (String side : java.util.List.of("ingress", "egress")) {
                    for (JsonNode layer : view.get(side)) {
                        assertThat(layer.get("ciphers").toString())
                                .as(relay + " " + side + " " + layer.get("name"))
                                .isEqualTo("[\"TLS_AES_256_GCM_SHA384\"]");
                        assertThat(layer.get("protocols").toString()).isEqualTo("[\"TLSv1.3\"]");
                    }
                }
            }
        }
    }
}
