package dev.onionrelay.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsProfile;
import dev.onionrelay.relay.Transport;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * {@code onion.*} is bound to types, not strings parsed later: a value that names nothing stops the start with
 * Spring's binding error naming the key, instead of silently meaning something else.
 */
class OnionPropertiesTest {

    private static OnionProperties bind(Map<String, String> keys) {
        return new Binder(new MapConfigurationPropertySource(keys)).bindOrCreate("onion", OnionProperties.class);
    }

    @Test
    void theDefaultsAreTheDocumentedOnes() {
        OnionProperties properties = bind(Map.of());
        assertThat(properties.tls().provider()).isEqualTo(ProviderChoice.AUTO);
        assertThat(properties.tls().profile()).isEqualTo(TlsProfile.DEFAULT);
        assertThat(properties.engine().transport()).isEqualTo(Transport.Kind.NIO);
        assertThat(properties.relayDefaults().profile()).isEqualTo(TlsProfile.DEFAULT);
        assertThat(properties.relayDefaults().maxTunnels()).isEqualTo(1024);
    }

    @Test
    void valuesAreReadInAnyCase() {
        OnionProperties properties = bind(Map.of(
                "onion.tls.provider", "OpenSSL", "onion.tls.profile", "STRICT", "onion.engine.transport", "Epoll"));
        assertThat(properties.tls().provider()).isEqualTo(ProviderChoice.OPENSSL);
        assertThat(properties.relayDefaults().profile()).isEqualTo(TlsProfile.STRICT);
        assertThat(properties.engine().transport()).isEqualTo(Transport.Kind.EPOLL);
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "onion.engine.transport, epol",
        "onion.tls.provider, boringssl",
        "onion.tls.profile, paranoid",
        "onion.limits.setup-timeout, soon",
        "onion.limits.max-request-size, lots",
        "onion.limits.max-depth, deep"
    })
    void aValueThatNamesNothingStopsTheStartNamingTheKey(String key, String value) {
        assertThatThrownBy(() -> bind(Map.of(key, value)))
                .isInstanceOf(BindException.class)
                .hasMessageContaining(key);
    }

    @org.junit.jupiter.api.Test
    void aDeclaredLayerBindsItsAllow() {
        OnionProperties properties = bind(Map.of(
                "onion.relays[0].name", "exit",
                "onion.relays[0].ingress[0].credential", "edge",
                "onion.relays[0].ingress[0].allow.uris[0]", "spiffe://prod.example/ns/web/sa/frontend",
                "onion.relays[0].ingress[0].allow.expression", "peer.notAfter > now"));

        dev.onionrelay.layer.allow.PeerAllow allow =
                properties.relays().get(0).ingress().get(0).allow();
        org.assertj.core.api.Assertions.assertThat(allow.uris())
                .containsExactly("spiffe://prod.example/ns/web/sa/frontend");
        org.assertj.core.api.Assertions.assertThat(allow.expression()).isEqualTo("peer.notAfter > now");
    }
}
