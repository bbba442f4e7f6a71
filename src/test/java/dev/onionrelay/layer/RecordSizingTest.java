package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Record sizing on its own, without a handshake: the plaintext per record that each layer of a stack gets once its
 * protocol is known, by engine, protocol, suite and depth, and the provisional size at push time. The numbers are the
 * ones the stack has applied since record alignment was measured (RecordAlignmentTest shows them on the wire): the JDK
 * engine's TLS 1.3 records hold at most 16,367 bytes and add 38; BoringSSL's TLS 1.3 records add 22; TLS 1.2 adds 29
 * with AES-GCM, 21 with ChaCha20, and other suites get the provisional 64.
 */
class RecordSizingTest {

    /** Plaintext per record of each layer of a stack of identical layers, outermost first, as the stack sizes them. */
    private static List<Integer> stackOf(int depth, TlsProvider provider, String protocol, String cipherSuite) {
        List<Integer> sizes = new ArrayList<>();
        sizes.add(RecordSizing.outermost(provider, protocol));
        while (sizes.size() < depth) {
            sizes.add(RecordSizing.inside(provider, protocol, cipherSuite, sizes.get(sizes.size() - 1)));
        }
        return sizes;
    }

    @ParameterizedTest(name = "{0} {1} {2}: {3}")
    @CsvSource(delimiter = '|', textBlock = """
            JDK     | TLSv1.3 | TLS_AES_128_GCM_SHA256                        | 16367 16329 16291 16253
            JDK     | TLSv1.3 | TLS_CHACHA20_POLY1305_SHA256                  | 16367 16329 16291 16253
            OPENSSL | TLSv1.3 | TLS_AES_256_GCM_SHA384                        | 16384 16362 16340 16318
            JDK     | TLSv1.2 | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256         | 16384 16355 16326 16297
            OPENSSL | TLSv1.2 | TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384       | 16384 16355 16326 16297
            OPENSSL | TLSv1.2 | TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256   | 16384 16363 16342 16321
            JDK     | TLSv1.2 | TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256         | 16384 16320 16256 16192
            OPENSSL | TLSv1.2 | TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA            | 16384 16320 16256 16192
            """)
    void each_record_fills_one_record_of_the_layer_outside(
            TlsProvider provider, String protocol, String cipherSuite, String expected) {
        List<Integer> sizes =
                Arrays.stream(expected.split(" ")).map(Integer::valueOf).toList();

        assertThat(stackOf(sizes.size(), provider, protocol, cipherSuite)).containsExactlyElementsOf(sizes);
    }

    @ParameterizedTest(name = "{0} {1} inside {3} bytes per record: {4}")
    @CsvSource(delimiter = '|', textBlock = """
            JDK     | TLSv1.3 | TLS_AES_128_GCM_SHA256                 | 16384 | 16346
            OPENSSL | TLSv1.3 | TLS_AES_128_GCM_SHA256                 | 16367 | 16345
            JDK     | TLSv1.3 | TLS_AES_128_GCM_SHA256                 | 16355 | 16317
            OPENSSL | TLSv1.2 | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256  | 16367 | 16338
            JDK     | TLSv1.3 | TLS_AES_128_GCM_SHA256                 |  1100 |  1062
            JDK     | TLSv1.3 | TLS_AES_128_GCM_SHA256                 |  1050 |  1024
            OPENSSL | TLSv1.2 | TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA     |  1024 |  1024
            """)
    void a_layer_inside_another_engine_or_protocol_fits_that_layer_down_to_the_floor(
            TlsProvider provider, String protocol, String cipherSuite, int outsideWrapDataSize, int expected) {
        assertThat(RecordSizing.inside(provider, protocol, cipherSuite, outsideWrapDataSize))
                .isEqualTo(expected);
    }

    @ParameterizedTest(name = "on top of {0} layers: {1}")
    @CsvSource({"0, 16384", "1, 16320", "2, 16256", "5, 16064", "240, 1024", "241, 1024", "1000, 1024"})
    void a_pushed_layer_starts_with_64_bytes_of_allowance_per_layer_outside_it(int depth, int expected) {
        assertThat(RecordSizing.provisional(depth)).isEqualTo(expected);
    }

    @Test
    void only_the_jdk_engine_holds_back_17_bytes_of_a_tls13_record() {
        assertThat(RecordSizing.maxPlaintext(TlsProvider.JDK, "TLSv1.3")).isEqualTo(16367);
        assertThat(RecordSizing.maxPlaintext(TlsProvider.JDK, "TLSv1.2")).isEqualTo(16384);
        assertThat(RecordSizing.maxPlaintext(TlsProvider.OPENSSL, "TLSv1.3")).isEqualTo(16384);
        assertThat(RecordSizing.outermost(TlsProvider.JDK, "TLSv1.3")).isEqualTo(16367);
        assertThat(RecordSizing.outermost(TlsProvider.OPENSSL, "TLSv1.2")).isEqualTo(16384);
    }
}
