package dev.onionrelay.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The envelope private keys are stored in: AES-256-GCM under the key-encryption key, bound to their purpose. */
class KeyEncryptionKeyTest {

    private static final byte[] PLAIN = "-----BEGIN PRIVATE KEY-----\nsecret\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void aSealedValueOpensWithTheSameKeyAndPurposeAndShowsNoneOfThePlainText() throws Exception {
        KeyEncryptionKey kek = key(1);
        byte[] sealed = kek.seal(PLAIN, "credential:a");

        assertThat(kek.open(sealed, "credential:a")).isEqualTo(PLAIN);
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("PRIVATE KEY", "secret");
        assertThat(sealed).hasSize(1 + 12 + PLAIN.length + 16);
        assertThat(kek.seal(PLAIN, "credential:a"))
                .as("a fresh nonce every time")
                .isNotEqualTo(sealed);
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("another key", (Opener) value -> key(2).open(value, "credential:a")),
                Arguments.of("another purpose (a row moved)", (Opener) value -> key(1).open(value, "credential:b")),
                Arguments.of("a flipped bit", (Opener) value -> {
                    value[value.length - 20] ^= 1;
                    return key(1).open(value, "credential:a");
                }),
                Arguments.of("a truncated value", (Opener) value -> key(1).open(new byte[10], "credential:a")),
                Arguments.of("an unknown version", (Opener) value -> {
                    value[0] = 9;
                    return key(1).open(value, "credential:a");
                }));
    }

    @ParameterizedTest(name = "{0} does not open")
    @MethodSource("refusals")
    void aSealedValueDoesNotOpenWith(String what, Opener opener) {
        byte[] sealed = key(1).seal(PLAIN, "credential:a");
        assertThatThrownBy(() -> opener.open(sealed)).isInstanceOf(GeneralSecurityException.class);
    }

    @Test
    void theKeyFileHoldsThirtyTwoBytesRawOrBase64() throws Exception {
        byte[] raw = bytes(7);
        Path rawFile = Files.write(dir.resolve("raw"), raw);
        Path base64File =
                Files.writeString(dir.resolve("b64"), Base64.getEncoder().encodeToString(raw) + "\n");

        KeyEncryptionKey fromRaw = KeyEncryptionKey.load(rawFile);
        KeyEncryptionKey fromBase64 = KeyEncryptionKey.load(base64File);

        assertThat(fromRaw.id()).isEqualTo(fromBase64.id()).hasSize(16);
        assertThat(fromRaw.id()).isNotEqualTo(key(8).id());
        assertThat(HexFormat.of().formatHex(raw)).doesNotContain(fromRaw.id());
        assertThat(fromBase64.open(fromRaw.seal(PLAIN, "x"), "x")).isEqualTo(PLAIN);
        assertThat(fromRaw.toString()).doesNotContain(Base64.getEncoder().encodeToString(raw));
    }

    @Test
    void aKeyFileOfAnotherLengthOrAMissingOneIsAClearConfigurationError() throws Exception {
        Path shortFile =
                Files.writeString(dir.resolve("short"), Base64.getEncoder().encodeToString(new byte[16]));

        assertThatThrownBy(() -> KeyEncryptionKey.load(shortFile))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining("onion.store.encryption-key-file")
                .hasMessageContaining("does not hold 32 bytes");
        assertThatThrownBy(() -> KeyEncryptionKey.load(dir.resolve("missing")))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining("cannot be read");
    }

    interface Opener {
        byte[] open(byte[] sealed) throws Exception;
    }

    static KeyEncryptionKey key(int seed) {
        return new KeyEncryptionKey(bytes(seed));
    }

    private static byte[] bytes(int seed) {
        byte[] key = new byte[32];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (seed * 31 + i);
        }
        return key;
    }
}
