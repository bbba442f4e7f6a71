package dev.onionrelay.registry.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A stored relay survives the file format unchanged, files from before schema versions still load, newer ones do not. */
class StoredRelayJsonTest {

    private final StoredRelayJson json = new StoredRelayJson();

    static StoredRelay relay() {
        LayerRequest server = new LayerRequest(
                "outer",
                null,
                "hop",
                "system",
                null,
                null,
                "require",
                null,
                null,
                List.of("h2"),
                "3s",
                null,
                null,
                null,
                null);
        LayerRequest client = new LayerRequest(
                null, null, null, "ca", "localhost", null, null, null, null, null, null, null, "strict", null, null);
        RelayRequest request = new RelayRequest(
                "exit",
                new RelayRequest.EndpointRequest("127.0.0.1", 7100),
                RelayRequest.TargetRequest.fixed("example.internal", 443),
                List.of(server),
                List.of(client),
                new RelayRequest.OptionsRequest(
                        12, "4s", "2s", "1m", new RelayRequest.MinDepthRequest(0, 1), "hold", "20s"));
        return new StoredRelay(
                "0b0c6a8e-2f0e-4d53-9f5e-6d1f3f1f0a11",
                Instant.parse("2026-11-30T11:00:00Z"),
                RelayRequests.toSpec(
                        request,
                        new RelayRequests.Defaults(
                                100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5))));
    }

    @Test
    void aRelayReadsBackAsItWasWrittenWithTheSchemaVersionFirst() {
        StoredRelay relay = relay();
        byte[] written = json.write(relay);
        assertThat(new String(written, StandardCharsets.UTF_8))
                .startsWith("{\n  \"schemaVersion\" : " + StoredRelayJson.SCHEMA_VERSION + ",");
        assertThat(json.read(written)).isEqualTo(relay);
    }

    @Test
    void aLayersAllowIsStoredAsGivenAndCompiledAgainWhenReadBack() {
        StoredRelay plain = relay();
        dev.onionrelay.layer.LayerSpec layer = plain.spec()
                .ingress()
                .get(0)
                .withAllow(dev.onionrelay.layer.allow.PeerPolicy.compile(new dev.onionrelay.layer.allow.PeerAllow(
                        null,
                        null,
                        null,
                        List.of("spiffe://test.example/ns/web/*"),
                        null,
                        null,
                        "peer.notAfter > now")));
        dev.onionrelay.relay.RelaySpec spec = plain.spec();
        StoredRelay relay = new StoredRelay(
                plain.id(),
                plain.createdAt(),
                new dev.onionrelay.relay.RelaySpec(
                        spec.name(),
                        spec.listen(),
                        spec.target(),
                        List.of(layer),
                        spec.egress(),
                        spec.options(),
                        spec.upstream()));

        byte[] written = json.write(relay);

        assertThat(new String(written, StandardCharsets.UTF_8))
                .contains("\"uris\" : [ \"spiffe://test.example/ns/web/*\" ]")
                .contains("\"expression\" : \"peer.notAfter > now\"");
        StoredRelay read = json.read(written);
        assertThat(read).isEqualTo(relay);
        assertThat(read.spec().ingress().get(0).allow()).isNotNull();
    }

    /** Exactly what the first release wrote for {@link #relay()}: no schemaVersion, the layout of version 1. */
    static final String WITHOUT_VERSION = """
            {
              "id" : "0b0c6a8e-2f0e-4d53-9f5e-6d1f3f1f0a11",
              "createdAt" : "2026-11-30T11:00:00Z",
              "spec" : {
                "name" : "exit",
                "listen" : {
                  "host" : "127.0.0.1",
                  "port" : 7100
                },
                "target" : {
                  "host" : "example.internal",
                  "port" : 443
                },
                "ingress" : [ {
                  "name" : "outer",
                  "role" : "SERVER",
                  "credential" : "hop",
                  "trust" : "system",
                  "serverName" : null,
                  "verify" : "CHAIN",
                  "clientAuth" : "REQUIRE",
                  "protocols" : [ "TLSv1.3", "TLSv1.2" ],
                  "ciphers" : [ ],
                  "alpn" : [ "h2" ],
                  "handshakeTimeout" : "PT3S"
                } ],
                "egress" : [ {
                  "name" : "0",
                  "role" : "CLIENT",
                  "credential" : null,
                  "trust" : "ca",
                  "serverName" : "localhost",
                  "verify" : "FULL",
                  "clientAuth" : "NONE",
                  "protocols" : [ "TLSv1.3" ],
                  "ciphers" : [ "TLS_AES_256_GCM_SHA384" ],
                  "alpn" : [ ],
                  "handshakeTimeout" : "PT4S"
                } ],
                "options" : {
                  "maxTunnels" : 12,
                  "handshakeTimeout" : "PT4S",
                  "connectTimeout" : "PT2S",
                  "idleTimeout" : "PT1M",
                  "minIngressDepth" : 0,
                  "minEgressDepth" : 1,
                  "halfClose" : "HOLD",
                  "halfCloseTimeout" : "PT20S"
                }
              }
            }
            """;

    @Test
    void aFileFromBeforeSchemaVersionsLoadsAsVersionOne() {
        assertThat(json.read(WITHOUT_VERSION.getBytes(StandardCharsets.UTF_8))).isEqualTo(relay());
    }

    @Test
    void aFileFromANewerVersionIsRefusedNotGuessedAt() {
        String newer = "{\"schemaVersion\": " + (StoredRelayJson.SCHEMA_VERSION + 1) + ","
                + WITHOUT_VERSION.trim().substring(1);
        assertThatThrownBy(() -> json.read(newer.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("schema version " + (StoredRelayJson.SCHEMA_VERSION + 1));
    }

    @Test
    void severalTargetsAndProxyModesReadBackAsWritten() {
        StoredRelay relay = relay();
        for (TargetSpec target : List.of(
                new TargetSpec(
                        TargetSpec.Mode.FIXED,
                        List.of(new Endpoint("a.internal", 1), new Endpoint("127.0.0.1", 2)),
                        TargetSpec.Balance.ROUND_ROBIN),
                TargetSpec.proxy(TargetSpec.Mode.CONNECT),
                TargetSpec.proxy(TargetSpec.Mode.SOCKS5))) {
            RelaySpec spec = relay.spec();
            StoredRelay other = new StoredRelay(
                    relay.id(),
                    relay.createdAt(),
                    new RelaySpec(spec.name(), spec.listen(), target, spec.ingress(), spec.egress(), spec.options()));
            assertThat(json.read(json.write(other))).isEqualTo(other);
        }
    }

    @Test
    void somethingElseThanARelayIsRefused() {
        assertThatThrownBy(() -> json.read("[1]".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
