package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which layer settings a layer may have, without starting anything: the ones that can never give a working or a safe
 * handshake are refused when the spec is built, naming the setting; the ones that work are taken as given.
 */
class LayerSettingsTest {

    private static final Duration RELAY_TIMEOUT = Duration.ofSeconds(10);

    /** A client layer in egress position 0 with the given settings ("-": not given; lists split on spaces). */
    private static LayerSpec layer(
            @Nullable String protocols,
            @Nullable String ciphers,
            @Nullable String alpn,
            @Nullable String serverName,
            @Nullable String timeout) {
        return LayerDefaults.layer(Side.EGRESS, 0, RELAY_TIMEOUT)
                .serverName(given(serverName))
                .protocols(list(protocols))
                .ciphers(list(ciphers))
                .alpn(list(alpn))
                .handshakeTimeout(given(timeout) != null ? Duration.parse(timeout) : null)
                .defaultServerName("localhost")
                .build();
    }

    private static @Nullable String given(@Nullable String value) {
        if (value == null || value.equals("-")) {
            return null;
        }
        return value.replace("\\n", "\n").replace("<empty>", "").replace("<space>", " ");
    }

    private static @Nullable List<String> list(@Nullable String value) {
        if (value == null || value.equals("-")) {
            return null;
        }
        if (value.equals("[]")) {
            return List.of();
        }
        return Arrays.stream(value.split(" ")).map(LayerSettingsTest::given).toList();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "null", textBlock = """
            unknown version            | TLSv9                 | -                                       | -      | -                 | -          | protocols[0]
            SSLv3                      | SSLv3                 | -                                       | -      | -                 | -          | protocols[0]
            TLS 1.0                    | TLSv1                 | -                                       | -      | -                 | -          | protocols[0]
            TLS 1.1 after 1.3          | TLSv1.3 TLSv1.1       | -                                       | -      | -                 | -          | protocols[1]
            no protocols               | []                    | -                                       | -      | -                 | -          | protocols
            a protocol twice           | TLSv1.2 TLSv1.2       | -                                       | -      | -                 | -          | protocols[1]
            unknown suite              | -                     | NOPE                                    | -      | -                 | -          | ciphers[0]
            CBC suite                  | -                     | TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256   | -      | -                 | -          | ciphers[0]
            NULL suite                 | -                     | TLS_RSA_WITH_NULL_SHA256                | -      | -                 | -          | ciphers[0]
            anonymous suite            | -                     | TLS_DH_anon_WITH_AES_128_GCM_SHA256     | -      | -                 | -          | ciphers[0]
            no suites                  | -                     | []                                      | -      | -                 | -          | ciphers
            only 1.2 suites for 1.3    | TLSv1.3               | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256   | -      | -                 | -          | ciphers
            only 1.3 suites for 1.2    | TLSv1.2               | TLS_AES_128_GCM_SHA256                  | -      | -                 | -          | ciphers
            empty ALPN name            | -                     | -                                       | <empty> | -                | -          | alpn[0]
            ALPN name with a space     | -                     | -                                       | h2 h<space>2 | -          | -          | alpn[1]
            ALPN name twice            | -                     | -                                       | h2 h2  | -                 | -          | alpn[1]
            empty server name          | -                     | -                                       | -      | <empty>           | -          | serverName
            newline in server name     | -                     | -                                       | -      | a\\nb             | -          | serverName
            trailing space             | -                     | -                                       | -      | localhost<space>  | -          | serverName
            slash in server name       | -                     | -                                       | -      | a/b               | -          | serverName
            handshake for a year       | -                     | -                                       | -      | -                 | P365D      | handshakeTimeout
            handshake of a nanosecond  | -                     | -                                       | -      | -                 | PT0.000000001S | handshakeTimeout
            """)
    void settingsThatCanNeverWorkAreRefusedNamingTheSetting(
            String why,
            String protocols,
            String ciphers,
            String alpn,
            String serverName,
            String timeout,
            String field) {
        assertThatThrownBy(() -> layer(protocols, ciphers, alpn, serverName, timeout))
                .as(why)
                .isInstanceOfSatisfying(InvalidSpecException.class, e -> assertThat(e.problems())
                        .extracting(SpecProblem::field)
                        .containsExactly(field));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            the defaults               | -                     | -                                                  | -           | -          | -
            TLS 1.3 only, AES-256      | TLSv1.3               | TLS_AES_256_GCM_SHA384                             | -           | -          | -
            TLS 1.2 only, ECDHE GCM    | TLSv1.2               | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256            | -           | -          | -
            both, a suite of each      | TLSv1.3 TLSv1.2       | TLS_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 | - | - | -
            ALPN h2 and http/1.1       | -                     | -                                                  | h2 http/1.1 | -          | -
            IPv4 server name           | -                     | -                                                  | -           | 127.0.0.1  | -
            IPv6 server name           | -                     | -                                                  | -           | ::1        | -
            DNS server name            | -                     | -                                                  | -           | h1.example-relay.internal | -
            ten minutes of handshake   | -                     | -                                                  | -           | -          | PT10M
            """)
    void workingSettingsAreTakenAsGiven(
            String why, String protocols, String ciphers, String alpn, String serverName, String timeout) {
        LayerSpec spec = layer(protocols, ciphers, alpn, serverName, timeout);
        assertThat(spec.protocols())
                .as(why)
                .isEqualTo(list(protocols) != null ? list(protocols) : TlsSettings.PROTOCOLS);
        assertThat(spec.serverName()).as(why).isEqualTo(given(serverName) != null ? given(serverName) : "localhost");
    }
}
