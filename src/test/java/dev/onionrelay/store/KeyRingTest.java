package dev.onionrelay.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The keys one instance holds during a rotation: the current one and the previous ones, found by id. */
class KeyRingTest {

    @TempDir
    Path dir;

    @Test
    void holdsTheCurrentAndThePreviousKeysByIdAndNothingElse() throws Exception {
        KeyRing ring = KeyRing.load(write("new.key", 2), List.of(write("old.key", 1), write("older.key", 0)));

        assertThat(ring.current().id()).isEqualTo(key(2).id());
        assertThat(ring.ids()).containsExactlyInAnyOrder(key(0).id(), key(1).id(), key(2).id());
        assertThat(ring.find(key(1).id()).orElseThrow().open(key(1).seal(new byte[] {7}, "p"), "p"))
                .containsExactly(7);
        assertThat(ring.find(key(3).id())).isEmpty();
        assertThat(ring.toString()).doesNotContain(Base64.getEncoder().encodeToString(bytes(2)));
    }

    @Test
    void aPreviousKeyThatRepeatsTheCurrentOneOrAnotherIsRefusedNamingTheSetting() throws Exception {
        Path current = write("current.key", 1);
        assertThatThrownBy(() -> KeyRing.load(current, List.of(write("same-again.key", 1))))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining(KeyRing.PREVIOUS_SETTING)
                .hasMessageContaining(key(1).id());
        assertThatThrownBy(() -> KeyRing.load(current, List.of(dir.resolve("missing.key"))))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageStartingWith(KeyRing.PREVIOUS_SETTING + " " + dir.resolve("missing.key"));
    }

    private Path write(String name, int seed) throws Exception {
        return Files.writeString(dir.resolve(name), Base64.getEncoder().encodeToString(bytes(seed)));
    }

    private static KeyEncryptionKey key(int seed) {
        return new KeyEncryptionKey(bytes(seed));
    }

    private static byte[] bytes(int seed) {
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) seed);
        return key;
    }
}
