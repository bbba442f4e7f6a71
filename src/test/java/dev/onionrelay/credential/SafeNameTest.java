package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

/** The one name rule for relays and credentials: safe as a file name and as a URL segment. */
class SafeNameTest {

    @ParameterizedTest
    @ValueSource(
            strings = {
                "a",
                "9",
                "edge-ca",
                "edge.ca_2",
                "A123456789012345678901234567890123456789012345678901234567890ab" // 63 characters
            })
    void accepts(String name) {
        assertThat(SafeName.isValid(name)).isTrue();
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(
            strings = {
                ".hidden", // temporary files start with a dot
                "-flag",
                "_x",
                "a/b",
                "..",
                "a b",
                "caf\u00e9",
                "a%2Fb",
                "A1234567890123456789012345678901234567890123456789012345678901ab" // 64 characters
            })
    void refuses(String name) {
        assertThat(SafeName.isValid(name)).isFalse();
    }
}
