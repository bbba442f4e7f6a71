package dev.onionrelay.support;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The leak check used by the push/pop tests can fail: a buffer dropped without release is reported. */
class LeakCheckTest {

    @Test
    void aBufferThatIsNeverReleasedFailsTheCheck() throws Exception {
        LeakCheck check = new LeakCheck();
        check.beforeAll(null);
        leakOne();
        assertThatThrownBy(() -> check.afterAll(null))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("leak");
    }

    private static void leakOne() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(128);
        leaked.writeLong(42); // touched, then dropped without release()
    }
}
