package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** How onion.store.timeout is cut into the pool's waits and the statements' network timeout. */
class StoreTimeoutTest {

    @ParameterizedTest
    @ValueSource(longs = {1000, 2000, 3000, 3250, 5000})
    void thePoolsWaitForAConnectionAndTheCheckOfTheLastOneStayWithinTheTimeout(long millis) {
        StoreTimeout timeout = new StoreTimeout(Duration.ofMillis(millis));
        // HikariCP's worst case: the last idle connection's check starts just before its connection timeout ends.
        assertThat(timeout.connectionMillis() + timeout.validationMillis()).isLessThanOrEqualTo(millis);
        assertThat(timeout.validationMillis()).isLessThan(timeout.connectionMillis());
    }

    @Test
    void aLongTimeoutKeepsThePoolsOwnWaitsSoThatAnAbsentDatabaseStillAnswersWritesWithin3s() {
        StoreTimeout timeout = new StoreTimeout(Duration.ofSeconds(30));
        assertThat(timeout.connectionMillis()).isEqualTo(3000);
        assertThat(timeout.validationMillis()).isEqualTo(2000);
        assertThat(timeout.socketSeconds()).isEqualTo(30);
    }

    @Test
    void aTinyTimeoutGetsHikarisFloorsAndTheDriverAWholeSecond() {
        StoreTimeout timeout = new StoreTimeout(Duration.ofMillis(300));
        assertThat(timeout.connectionMillis()).isEqualTo(250);
        assertThat(timeout.validationMillis()).isEqualTo(250);
        assertThat(timeout.socketSeconds()).isEqualTo(1);
        assertThat(new StoreTimeout(Duration.ofMillis(2500)).socketSeconds()).isEqualTo(3);
    }

    @Test
    void whatIsLeftShrinksFromTheCallsStartAndIsSpentAfterTheTimeout() {
        StoreTimeout timeout = new StoreTimeout(Duration.ofSeconds(2));
        assertThat(timeout.left(System.nanoTime())).isBetween(1900L, 2000L);
        assertThat(timeout.left(System.nanoTime() - Duration.ofSeconds(3).toNanos()))
                .isNegative();
    }

    @Test
    void aTimeoutOfZeroIsRefused() {
        assertThatThrownBy(() -> new StoreTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }
}
