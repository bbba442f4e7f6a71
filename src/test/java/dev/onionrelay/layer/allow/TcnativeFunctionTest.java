package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.ssl.OpenSsl;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How {@link OpenSslFatalAlerts} finds BoringSSL's {@code SSL_send_fatal_alert} in this process's netty-tcnative,
 * without calling it: this process's memory is read through {@code /proc/self/mem}, which needs no Java 22, so the
 * check runs on the suite's Java 17 too. A library whose loaded code is not the image read is refused.
 */
class TcnativeFunctionTest {

    @BeforeAll
    static void loadTcnative() {
        OpenSsl.ensureAvailability();
    }

    /** This process's memory as it is. */
    static byte[] memory(long address, int length) {
        try (RandomAccessFile mem = new RandomAccessFile("/proc/self/mem", "r")) {
            byte[] bytes = new byte[length];
            mem.seek(address);
            mem.readFully(bytes);
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void finds_the_function_in_the_loaded_library_and_its_code_matches_the_image() throws Exception {
        TcnativeFunction function = TcnativeFunction.locate("SSL_send_fatal_alert", TcnativeFunctionTest::memory);

        assertThat(function.library()).contains("libnetty_tcnative");
        assertThat(function.address()).isPositive();
        // A different function of the same library lies elsewhere: the address is the symbol's, not the library's.
        assertThat(TcnativeFunction.locate("SSL_alert_from_verify_result", TcnativeFunctionTest::memory)
                        .address())
                .isNotEqualTo(function.address());
    }

    @Test
    void a_library_whose_loaded_code_differs_from_the_image_is_refused() {
        TcnativeFunction.Memory patched = (address, length) -> {
            byte[] bytes = memory(address, length);
            bytes[length - 1] ^= 1;
            return bytes;
        };

        assertThatThrownBy(() -> TcnativeFunction.locate("SSL_send_fatal_alert", patched))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not the image read");
    }

    @Test
    void a_function_the_symbol_table_does_not_have_is_refused() {
        assertThatThrownBy(() -> TcnativeFunction.locate("SSL_no_such_function", TcnativeFunctionTest::memory))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("no function SSL_no_such_function");
    }
}
