package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.TestPki;
import java.security.KeyPairGenerator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which engine {@code auto} gives a layer: OpenSSL, which keeps half-close here (OpenSslHalfCloseTest), unless BoringSSL
 * cannot do what the layer asks; the forced choices put every layer on their engine.
 */
class ProviderChoiceTest {

    private static final TestPki pki = new TestPki();

    @Test
    void autoRunsEveryLayerOnOpenSslWhateverItsPlaceInTheStack() {
        assertThat(OpenSslHalfClose.available()).isTrue();
        for (int index = 0; index < 4; index++) {
            assertThat(ProviderChoice.AUTO.forLayer(index, 2, true))
                    .as("layer %d", index)
                    .isEqualTo(TlsProvider.OPENSSL);
        }
    }

    @Test
    void withoutOpenSslHalfCloseAForcedOpenSslWarnsThatLayersLoseHalfCloseAndAutoThatItRunsSlower() {
        Throwable why = new NoSuchFieldException("receivedShutdown");
        assertThat(ProviderChoice.OPENSSL.halfCloseWarning(false, why))
                .hasValueSatisfying(warning -> assertThat(warning)
                        .contains("onion.tls.provider=openssl", "LOSE HALF-CLOSE", "receivedShutdown"));
        assertThat(ProviderChoice.AUTO.halfCloseWarning(false, why))
                .hasValueSatisfying(warning -> assertThat(warning).contains("slower JDK engine"));
        assertThat(ProviderChoice.JDK.halfCloseWarning(false, why))
                .as("the JDK engine loses nothing")
                .isEmpty();
        for (ProviderChoice choice : ProviderChoice.values()) {
            assertThat(choice.halfCloseWarning(true, null))
                    .as("%s with half-close available", choice)
                    .isEmpty();
        }
    }

    @Test
    void autoKeepsALayerOpenSslCannotCarryOnTheJdkEngine() {
        assertThat(ProviderChoice.AUTO.forLayer(0, 2, false)).isEqualTo(TlsProvider.JDK);
        assertThat(ProviderChoice.OPENSSL.forLayer(0, 2, false))
                .as("a forced choice is the operator's")
                .isEqualTo(TlsProvider.OPENSSL);
        assertThat(ProviderChoice.JDK.forLayer(3, 0, true)).isEqualTo(TlsProvider.JDK);
    }

    @Test
    void openSslCarriesEcAndRsaIdentitiesButNotEd25519() throws Exception {
        pki.ca("ca");
        var leaf = pki.leaf("hop", "ca");
        LayerSpec server = Layers.server("L", "hop");
        assertThat(TlsContexts.openSslCarries(server, new KeyMaterial.Identity(leaf.privateKey(), leaf.chain())))
                .isTrue();
        var ed25519 = KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate();
        assertThat(TlsContexts.openSslCarries(server, new KeyMaterial.Identity(ed25519, leaf.chain())))
                .isFalse();
        assertThat(TlsContexts.openSslCarries(Layers.client("L", "ca", "localhost"), null))
                .isTrue();
    }

    @Test
    void openSslCannotLimitTls13ToSomeOfItsSuites() {
        LayerSpec aes256Only = withCiphers(List.of("TLSv1.3"), List.of("TLS_AES_256_GCM_SHA384"));
        assertThat(TlsContexts.openSslCarries(aes256Only, null)).isFalse();
        assertThat(TlsContexts.openSslCarries(
                        withCiphers(List.of("TLSv1.3", "TLSv1.2"), TlsContexts.AEAD_CIPHERS), null))
                .isTrue();
        assertThat(TlsContexts.openSslCarries(
                        withCiphers(List.of("TLSv1.2"), List.of("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")), null))
                .as("TLS 1.2 suites can be chosen")
                .isTrue();
    }

    private static LayerSpec withCiphers(List<String> protocols, List<String> ciphers) {
        return Layers.withProtocolsAndCiphers(Layers.client("L", "ca", "localhost"), protocols, ciphers);
    }
}
